// The .binq container (docs/format.md): a fixed 32-byte prefix, a JSON header that describes
// the model, the quantization and every blob, then the blobs, each 64-byte aligned and CRC-32
// checked. Written atomically; any truncation or corruption is reported by name on load.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "binq/core/mapped_file.h"

namespace binq {

inline constexpr char kBinqMagic[8] = {'B', 'I', 'N', 'Q', 'F', 'I', 'L', 'E'};
inline constexpr uint32_t kBinqVersion = 1;
inline constexpr uint64_t kBinqAlign = 64;

// Collects the blobs of a .binq file, then writes it in one atomic step. Blobs are copied,
// taken over or only referenced, so that writing a model never needs a second in-memory copy
// of its packed layers (they can be most of a quantizer's memory).
class BinqWriter {
 public:
  // dtype is informational for readers and `binq inspect`: f32, f16, i8, i32, u8.
  // Copies the bytes.
  void add(const std::string& name, const std::string& dtype, std::vector<int64_t> shape,
           const void* data, size_t bytes);
  // Takes the buffer over.
  template <typename T>
  void add(const std::string& name, const std::string& dtype, std::vector<int64_t> shape, std::vector<T>&& data) {
    auto owned = std::make_shared<const std::vector<T>>(std::move(data));
    add_ref(name, dtype, std::move(shape), owned->data(), owned->size() * sizeof(T));
    owned_.push_back(std::move(owned));
  }
  // References the bytes, which must stay valid and unchanged until write() has returned.
  void add_ref(const std::string& name, const std::string& dtype, std::vector<int64_t> shape,
               const void* data, size_t bytes);
  nlohmann::json& header() { return header_; }  // free-form sections: "model", "quant", ...
  void write(const std::string& path) const;     // checksums every blob, then writes
  size_t data_bytes() const { return end_; }

 private:
  struct Blob {
    std::string name, dtype;
    std::vector<int64_t> shape;
    std::string_view bytes;
    uint64_t offset = 0;  // in the data section, kBinqAlign-aligned
  };
  nlohmann::json header_ = nlohmann::json::object();
  std::vector<Blob> blobs_;
  std::vector<std::shared_ptr<const void>> owned_;
  uint64_t end_ = 0;  // data section bytes so far
};

struct BlobInfo {
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // absolute file offset
  uint64_t bytes = 0;
};

class BinqReader {
 public:
  // Maps the file, checks magic, version, header CRC and every blob's bounds and CRC.
  explicit BinqReader(const std::string& path);
  const nlohmann::json& header() const { return header_; }
  const std::string& path() const { return file_->path(); }
  bool has(const std::string& name) const { return blobs_.count(name) != 0; }
  const BlobInfo& info(const std::string& name) const;
  // The blob's bytes; fails naming the blob if missing, of another dtype or of another size.
  const uint8_t* blob(const std::string& name, const std::string& dtype, uint64_t expected_bytes) const;
  const std::map<std::string, BlobInfo>& blobs() const { return blobs_; }
  uint64_t file_size() const { return file_->size(); }
  std::shared_ptr<const MappedFile> file() const { return file_; }

 private:
  std::shared_ptr<const MappedFile> file_;
  nlohmann::json header_;
  std::map<std::string, BlobInfo> blobs_;
};

uint32_t crc32_of(const void* data, size_t bytes);

}  // namespace binq
