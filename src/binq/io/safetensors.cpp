#include "binq/io/safetensors.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cstring>

#include "binq/core/error.h"
#include "binq/core/half.h"

namespace binq {

static_assert(std::endian::native == std::endian::little,
              "safetensors and llama2.c files are little-endian; a big-endian host needs byte swaps");

using nlohmann::json;

namespace {

// The safetensors reference implementation refuses headers above 100 MB; so do we, which also
// bounds the memory a corrupt length field can make the JSON parser use.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// Reads a non-negative JSON integer; false if the value is anything else.
bool as_u64(const json& v, uint64_t& out) {
  if (!v.is_number_unsigned()) return false;
  out = v.get<uint64_t>();
  return true;
}

}  // namespace

int safetensors_dtype_size(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" || dtype == "F8_E5M2") return 1;
  return 0;
}

int64_t SafetensorsTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // overflow was excluded when the header was parsed
  return n;
}

std::string SafetensorsTensor::shape_string() const { return fmt::format("[{}]", fmt::join(shape, ", ")); }

const SafetensorsTensor* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

std::shared_ptr<const SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  auto st = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
  st->file_ = MappedFile::open(path);
  const MappedFile& f = *st->file_;

  uint64_t header_len;
  std::memcpy(&header_len, f.at(0, 8, "safetensors header length (8 bytes)"), 8);
  if (header_len > kMaxHeaderBytes)
    fail("{}: safetensors header length {} exceeds the 100 MB limit (corrupt file?)", path, header_len);
  if (header_len > f.size() - 8)
    fail("{}: safetensors header length {} goes beyond the end of the file ({} bytes); truncated or not a "
         "safetensors file",
         path, header_len, f.size());
  const char* text = reinterpret_cast<const char*>(f.data() + 8);
  json header = json::parse(text, text + header_len, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) fail("{}: safetensors header is not valid JSON", path);
  if (!header.is_object()) fail("{}: safetensors header must be a JSON object", path);

  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = f.size() - data_start;
  std::vector<const SafetensorsTensor*> by_offset;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      if (!it->is_object()) fail("{}: '__metadata__' must be a JSON object", path);
      continue;
    }
    const json& e = *it;
    if (!e.is_object()) fail("{}: tensor '{}': header entry must be an object", path, name);
    SafetensorsTensor t;
    t.name = name;
    auto dtype = e.find("dtype");
    if (dtype == e.end() || !dtype->is_string()) fail("{}: tensor '{}': missing string field 'dtype'", path, name);
    t.dtype = dtype->get<std::string>();
    const int elem = safetensors_dtype_size(t.dtype);
    if (elem == 0) fail("{}: tensor '{}': unsupported dtype '{}' (unknown safetensors dtype)", path, name, t.dtype);

    auto shape = e.find("shape");
    if (shape == e.end() || !shape->is_array()) fail("{}: tensor '{}': missing array field 'shape'", path, name);
    if (shape->size() > 8) fail("{}: tensor '{}': shape has {} dimensions (at most 8 expected)", path, name, shape->size());
    uint64_t numel = 1;
    for (const json& d : *shape) {
      uint64_t v;
      if (!as_u64(d, v)) fail("{}: tensor '{}': shape entries must be non-negative integers", path, name);
      // Bound every step by the file size so neither numel nor numel*elem can overflow.
      if (v > f.size() || (v != 0 && numel > f.size() / v))
        fail("{}: tensor '{}': shape {} describes more data than the file holds", path, name, shape->dump());
      numel *= v;
      t.shape.push_back(int64_t(v));
    }

    auto offs = e.find("data_offsets");
    uint64_t begin, end;
    if (offs == e.end() || !offs->is_array() || offs->size() != 2 || !as_u64((*offs)[0], begin) ||
        !as_u64((*offs)[1], end))
      fail("{}: tensor '{}': 'data_offsets' must be [begin, end] with non-negative integers", path, name);
    if (begin > end || end > data_size)
      fail("{}: tensor '{}': data_offsets [{}, {}] are outside the data section of {} bytes (truncated or "
           "corrupt)",
           path, name, begin, end, data_size);
    if (end - begin != numel * uint64_t(elem))
      fail("{}: tensor '{}': data_offsets span {} bytes but dtype {} with shape {} needs {}", path, name,
           end - begin, t.dtype, t.shape_string(), numel * uint64_t(elem));
    t.offset = data_start + begin;
    t.bytes = end - begin;
    auto [pos, inserted] = st->tensors_.emplace(name, std::move(t));
    if (!inserted) fail("{}: tensor '{}' appears twice in the header", path, name);
    by_offset.push_back(&pos->second);
  }

  // Overlapping tensors would alias each other's storage: a sign of a corrupt or hostile header.
  std::sort(by_offset.begin(), by_offset.end(),
            [](const SafetensorsTensor* a, const SafetensorsTensor* b) { return a->offset < b->offset; });
  const SafetensorsTensor* prev = nullptr;
  for (const SafetensorsTensor* t : by_offset) {
    if (t->bytes == 0) continue;
    if (prev && t->offset < prev->offset + prev->bytes)
      fail("{}: tensors '{}' and '{}' have overlapping data_offsets", path, prev->name, t->name);
    prev = t;
  }
  return st;
}

const float* SafetensorsFile::read_f32(const SafetensorsTensor& t, ModelWeights& owner) const {
  return read_f32(t, owner.keep_alive);
}

const float* SafetensorsFile::read_f32(const SafetensorsTensor& t,
                                       std::vector<std::shared_ptr<const void>>& keep_alive) const {
  const uint8_t* src = file_->at(t.offset, t.bytes, "tensor '" + t.name + "'");
  const size_t n = size_t(t.numel());
  auto allocate = [&] {
    auto buffer = std::shared_ptr<float[]>(new float[n]);
    keep_alive.push_back(buffer);
    return buffer.get();
  };
  if (t.dtype == "F32") {
    // mmap is page aligned, but data_offsets need not be multiples of 4; a misaligned float
    // pointer is undefined behaviour, so such tensors are copied.
    if (reinterpret_cast<uintptr_t>(src) % alignof(float) == 0) {
      // In-place tensors point into the map: the owner must hold it (once, not once per tensor).
      if (std::none_of(keep_alive.begin(), keep_alive.end(),
                       [&](const std::shared_ptr<const void>& p) { return p.get() == file_.get(); }))
        keep_alive.push_back(file_);
      return reinterpret_cast<const float*>(src);
    }
    float* dst = allocate();
    std::memcpy(dst, src, n * sizeof(float));
    file_->drop_pages(src, t.bytes);
    return dst;
  }
  if (t.dtype == "F16" || t.dtype == "BF16") {
    float* dst = allocate();
    const bool bf16 = t.dtype == "BF16";
    for (size_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      dst[i] = bf16 ? bf16_to_float(h) : fp16_to_float(h);
    }
    // The FP32 copy is used from now on: the source pages would otherwise stay in RSS.
    file_->drop_pages(src, t.bytes);
    return dst;
  }
  fail("{}: tensor '{}': unsupported dtype '{}' (expected F32, F16 or BF16)", path(), t.name, t.dtype);
}

}  // namespace binq
