// Read-only memory map of a whole file. Loaders point tensors into the map instead of copying.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace binq {

class MappedFile {
 public:
  // Throws binq::Error naming the path if the file cannot be opened or mapped.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Bounds-checked view: fails with the file name and `what` if [offset, offset+bytes) is outside.
  const uint8_t* at(uint64_t offset, uint64_t bytes, const std::string& what) const;
  // True if [p, p + bytes) lies inside the map.
  bool contains(const void* p, size_t bytes) const;
  // Takes the whole pages inside [p, p + bytes) out of this process's resident set
  // (madvise MADV_DONTNEED): the contents stay valid and are read back from the file on the
  // next access. Loaders call it once a range has been converted or used, so that reading a
  // large checkpoint block by block does not leave the whole file resident (it counts in RSS).
  void drop_pages(const void* p, size_t bytes) const;

 private:
  MappedFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Reads a whole (small) file into a string; fails with the path on error.
std::string read_text_file(const std::string& path);

// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, then rename.
// A crash or error never leaves a half-written `path`.
void write_file_atomic(const std::string& path, const void* bytes, size_t size);
// Same with the file given as consecutive parts, so a caller never joins them into one copy.
void write_file_atomic(const std::string& path, const std::vector<std::string_view>& parts);

}  // namespace binq
