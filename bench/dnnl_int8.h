// oneDNN INT8 matmul baseline for kernels_bench (benchmark only; the library never links oneDNN).
// s8 activations [n x in] times s8 weights [in x out] -> s32 [n x out], the same integers as
// int8_int_dots. The weights are reordered once into the layout oneDNN picks (format_tag::any), as
// an inference engine would; the primitive is created once; OpenMP threads (OMP_NUM_THREADS).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "binq/kernels/int8_linear.h"

namespace binq {

class DnnlInt8 {
 public:
  // Primitive for w's shape and n tokens; `copies` reordered weight copies (rotated by run's i).
  DnnlInt8(const Int8Linear& w, int n, int copies);
  ~DnnlInt8();
  DnnlInt8(const DnnlInt8&) = delete;
  DnnlInt8& operator=(const DnnlInt8&) = delete;
  // y[t*out + j] = sum_k x.q[t*ld + k] * w.w[j*ld + k] with weight copy i % copies; waits for the result.
  void run(const Int8Acts& x, int32_t* y, size_t i);
  int64_t weight_bytes() const;  // one reordered copy (oneDNN's blocked layout + s8s8 compensation)
  std::string impl() const;      // implementation name, e.g. "brg:avx512_core_vnni"

 private:
  struct Impl;
  std::unique_ptr<Impl> p_;
};

// Compares oneDNN with int8_int_dots on small awkward shapes (exact int32 equality); aborts with a
// message on any difference. Prints oneDNN's version, ISA and implementation to stderr once.
void dnnl_int8_selfcheck();

}  // namespace binq
