// Read-only safetensors parser over a memory map.
// Layout: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets},
// "__metadata__": {...}}, then the data section; data_offsets are relative to the data section.
// Every structural property is checked at open() so a corrupt file fails with a message naming
// the file and tensor instead of reading out of bounds later.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "binq/core/mapped_file.h"
#include "binq/model/weights.h"

namespace binq {

struct SafetensorsTensor {
  std::string name;
  std::string dtype;             // "F32", "F16", "BF16", or another known safetensors dtype
  std::vector<int64_t> shape;
  uint64_t offset = 0;           // absolute byte offset of the data in the file
  uint64_t bytes = 0;
  int64_t numel() const;
  std::string shape_string() const;  // "[4, 8]"
};

class SafetensorsFile {
 public:
  // Throws binq::Error naming the path (and tensor) if the file is not a valid safetensors file.
  // Tensors of dtypes other than F32/F16/BF16 are accepted here (their sizes are checked) and
  // only refused when read, so unrelated integer buffers in a checkpoint do not block loading.
  static std::shared_ptr<const SafetensorsFile> open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  const std::map<std::string, SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* find(const std::string& name) const;
  std::shared_ptr<const MappedFile> mapped() const { return file_; }

  // FP32 values of a tensor: a pointer into the map when the tensor is F32 and 4-byte aligned,
  // otherwise a converted copy in a buffer allocated from `owner` (which also keeps the map
  // alive). Fails naming the tensor for unsupported dtypes.
  // F16/BF16 source pages are dropped from the resident set once converted (never read again).
  const float* read_f32(const SafetensorsTensor& t, ModelWeights& owner) const;
  // Same, with the converted buffer (or the map) added to `keep_alive` instead.
  const float* read_f32(const SafetensorsTensor& t, std::vector<std::shared_ptr<const void>>& keep_alive) const;

 private:
  std::shared_ptr<const MappedFile> file_;
  std::map<std::string, SafetensorsTensor> tensors_;
};

// Bytes per element of a safetensors dtype name, or 0 if the name is unknown.
int safetensors_dtype_size(const std::string& dtype);

}  // namespace binq
