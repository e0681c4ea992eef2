#include "binq/quant/binq_file.h"

#include <zlib.h>

#include <cstring>

#include "binq/core/error.h"

namespace binq {

// Fixed prefix: magic[8], u32 version, u32 header CRC-32, u64 header bytes, u64 reserved (0).
namespace {
constexpr size_t kPrefixBytes = 32;

uint64_t align_up(uint64_t v) { return (v + kBinqAlign - 1) / kBinqAlign * kBinqAlign; }

template <typename T>
T read_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
}  // namespace

uint32_t crc32_of(const void* data, size_t bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const Bytef* p = static_cast<const Bytef*>(data);
  while (bytes > 0) {  // zlib takes uInt lengths
    uInt chunk = uInt(std::min<size_t>(bytes, 1u << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    bytes -= chunk;
  }
  return uint32_t(crc);
}

void BinqWriter::add(const std::string& name, const std::string& dtype, std::vector<int64_t> shape,
                     const void* data, size_t bytes) {
  const auto* p = static_cast<const uint8_t*>(data);
  add(name, dtype, std::move(shape), std::vector<uint8_t>(p, p + bytes));
}

void BinqWriter::add_ref(const std::string& name, const std::string& dtype, std::vector<int64_t> shape,
                         const void* data, size_t bytes) {
  for (const Blob& b : blobs_)
    if (b.name == name) fail("internal: blob '{}' added twice", name);
  const uint64_t offset = align_up(end_);
  blobs_.push_back({name, dtype, std::move(shape), {static_cast<const char*>(data), bytes}, offset});
  end_ = offset + bytes;
}

void BinqWriter::write(const std::string& path) const {
  nlohmann::json h = header_;
  nlohmann::json& blobs = h["blobs"] = nlohmann::json::object();
  for (const Blob& b : blobs_)
    blobs[b.name] = {{"dtype", b.dtype}, {"shape", b.shape}, {"offset", b.offset}, {"bytes", b.bytes.size()},
                     {"crc32", crc32_of(b.bytes.data(), b.bytes.size())}};
  std::string json = h.dump();
  // Pad so that the data section starts 64-byte aligned (blob offsets are relative to it).
  json.resize(align_up(kPrefixBytes + json.size()) - kPrefixBytes, ' ');
  std::string out(kPrefixBytes, '\0');
  std::memcpy(out.data(), kBinqMagic, 8);
  uint32_t version = kBinqVersion, crc = crc32_of(json.data(), json.size());
  uint64_t header_bytes = json.size();
  std::memcpy(out.data() + 8, &version, 4);
  std::memcpy(out.data() + 12, &crc, 4);
  std::memcpy(out.data() + 16, &header_bytes, 8);
  out += json;
  // The blobs are written from where they are, with zero padding between them.
  static const char kZeros[kBinqAlign] = {};
  std::vector<std::string_view> parts = {out};
  uint64_t at = 0;
  for (const Blob& b : blobs_) {
    parts.emplace_back(kZeros, b.offset - at);
    parts.push_back(b.bytes);
    at = b.offset + b.bytes.size();
  }
  write_file_atomic(path, parts);
}

BinqReader::BinqReader(const std::string& path) : file_(MappedFile::open(path)) {
  const uint8_t* prefix = file_->at(0, kPrefixBytes, "the .binq prefix");
  if (std::memcmp(prefix, kBinqMagic, 8) != 0) fail("{}: not a .binq file (bad magic)", path);
  uint32_t version = read_le<uint32_t>(prefix + 8);
  if (version != kBinqVersion)
    fail("{}: .binq version {} is not supported (this build reads version {})", path, version, kBinqVersion);
  uint32_t crc = read_le<uint32_t>(prefix + 12);
  uint64_t header_bytes = read_le<uint64_t>(prefix + 16);
  const uint8_t* json = file_->at(kPrefixBytes, header_bytes, "the .binq header");
  if (crc32_of(json, header_bytes) != crc) fail("{}: header checksum mismatch (file corrupt)", path);
  header_ = nlohmann::json::parse(json, json + header_bytes, nullptr, false);
  if (header_.is_discarded() || !header_.is_object() || !header_.contains("blobs") || !header_["blobs"].is_object())
    fail("{}: header is not a JSON object with \"blobs\"", path);
  const uint64_t data_start = kPrefixBytes + header_bytes;
  for (auto& [name, b] : header_["blobs"].items()) {
    try {
      BlobInfo info;
      info.dtype = b.at("dtype").get<std::string>();
      info.shape = b.at("shape").get<std::vector<int64_t>>();
      uint64_t rel = b.at("offset").get<uint64_t>();
      info.bytes = b.at("bytes").get<uint64_t>();
      if (rel > file_->size() || rel % kBinqAlign != 0) fail("{}: blob '{}' has a bad offset {}", path, name, rel);
      info.offset = data_start + rel;
      const uint8_t* p = file_->at(info.offset, info.bytes, "blob '" + name + "'");
      if (crc32_of(p, info.bytes) != b.at("crc32").get<uint32_t>())
        fail("{}: blob '{}' checksum mismatch (file corrupt)", path, name);
      blobs_[name] = info;
    } catch (const nlohmann::json::exception& e) {
      fail("{}: blob '{}' has a malformed entry: {}", path, name, e.what());
    }
  }
}

const BlobInfo& BinqReader::info(const std::string& name) const {
  auto it = blobs_.find(name);
  if (it == blobs_.end()) fail("{}: blob '{}' is missing", path(), name);
  return it->second;
}

const uint8_t* BinqReader::blob(const std::string& name, const std::string& dtype, uint64_t expected_bytes) const {
  const BlobInfo& b = info(name);
  if (b.dtype != dtype) fail("{}: blob '{}' has dtype {}, expected {}", path(), name, b.dtype, dtype);
  if (b.bytes != expected_bytes)
    fail("{}: blob '{}' has {} bytes, expected {}", path(), name, b.bytes, expected_bytes);
  return file_->data() + b.offset;
}

}  // namespace binq
