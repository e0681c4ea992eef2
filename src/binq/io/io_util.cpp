#include "binq/io/io_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "binq/core/error.h"

namespace binq::io_detail {

namespace {
struct PageDropper {
  std::shared_ptr<const MappedFile> file;
  const void* p;
  size_t bytes;
  ~PageDropper() { file->drop_pages(p, bytes); }
};
}  // namespace

std::shared_ptr<const void> drop_pages_on_release(std::shared_ptr<const MappedFile> file, const void* p, size_t bytes) {
  if (!file->contains(p, bytes)) fail("{}: drop_pages_on_release: range outside the map", file->path());
  return std::make_shared<const PageDropper>(PageDropper{std::move(file), p, bytes});
}

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  tmp_ = path_ + ".tmp." + std::to_string(getpid());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("{}: cannot create: {}", tmp_, std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void AtomicFileWriter::write(const void* data, size_t bytes) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd_, p, bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("{}: write failed: {}", tmp_, std::strerror(errno));
    }
    p += n;
    bytes -= size_t(n);
  }
}

void AtomicFileWriter::commit() {
  const int fd = fd_;
  fd_ = -1;  // from here on the destructor must not close it again
  const bool synced = ::fsync(fd) == 0;
  int e = errno;
  const bool closed = ::close(fd) == 0;
  if (!closed && synced) e = errno;
  if (!synced || !closed) {
    ::unlink(tmp_.c_str());
    fail("{}: cannot flush: {}", tmp_, std::strerror(e));
  }
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp_.c_str());
    fail("{}: cannot rename into place: {}", path_, std::strerror(e));
  }
}

}  // namespace binq::io_detail
