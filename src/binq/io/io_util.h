// Helpers shared by the loaders and writers of src/binq/io (not part of the public contract).
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "binq/core/mapped_file.h"

#include "binq/model/weights.h"

namespace binq::io_detail {

// Fails if a writer is handed weights without FP32 data for some tensor (e.g. a model whose
// linears were replaced by quantized layers): such a checkpoint cannot be written as floats.
void require_fp32_data(const ModelWeights& w, const std::string& target);

// An object that holds `file` and, when destroyed, drops the pages of [p, p + bytes) from the
// resident set (MappedFile::drop_pages): put into a BlockLinears' keep_alive, it returns a
// block's in-place tensors to the page cache once the block is done.
std::shared_ptr<const void> drop_pages_on_release(std::shared_ptr<const MappedFile> file, const void* p, size_t bytes);

// Streams a file into place atomically, like write_file_atomic but without holding the whole
// file in memory (multi-GB checkpoints): writes go to a temporary file next to `path`; commit()
// fsyncs and renames it; destruction without commit() removes the temporary.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  void write(const void* data, size_t bytes);
  void commit();

 private:
  std::string path_, tmp_;
  int fd_ = -1;
};

}  // namespace binq::io_detail
