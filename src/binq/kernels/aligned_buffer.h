// Zero-initialised, 64-byte aligned byte buffer (cache-line aligned packed weights).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace binq {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t bytes) { resize(bytes); }
  AlignedBuffer(const AlignedBuffer& o) { *this = o; }
  AlignedBuffer& operator=(const AlignedBuffer& o) {
    if (this != &o) {
      resize(o.size_);
      if (o.size_) std::memcpy(data_.get(), o.data_.get(), o.size_);
    }
    return *this;
  }
  AlignedBuffer(AlignedBuffer&&) noexcept = default;
  AlignedBuffer& operator=(AlignedBuffer&&) noexcept = default;
  void resize(size_t bytes) {
    size_t alloc = (bytes + 63) / 64 * 64;
    void* p = alloc ? std::aligned_alloc(64, alloc) : nullptr;
    if (alloc && !p) throw std::bad_alloc();
    if (p) std::memset(p, 0, alloc);
    data_.reset(static_cast<uint8_t*>(p));
    size_ = bytes;
  }
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> data_;
  size_t size_ = 0;
};

}  // namespace binq
