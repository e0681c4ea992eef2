// INT8 W8A8 baseline: weights symmetric per output row, activations symmetric per token, INT32
// accumulation (AVX-512 VNNI / AVX2 VPMADDUBSW / scalar through the kernel table).
#pragma once
#include <cstdint>
#include <vector>

#include "binq/kernels/kernel_table.h"

namespace binq {

struct Int8Linear {
  int out_features = 0, in_features = 0, ld = 0;  // ld: in rounded up to 64 (zero padded)
  std::vector<int8_t> w;       // [out x ld]
  std::vector<float> scale;    // [out]
  std::vector<int32_t> wsum;   // [out] sum of the row's INT8 weights (VNNI offset correction)
  int64_t bytes() const { return int64_t(w.size()) + int64_t(scale.size()) * 4 + int64_t(wsum.size()) * 4; }
};

struct Int8Acts {
  int n_tokens = 0, in_features = 0, ld = 0;
  std::vector<int8_t> q;       // [n x ld]
  std::vector<float> scale;    // [n]
};

// w: [out x in] row-major floats. Scale = max|row| / 127 (0 for an all-zero row).
Int8Linear quantize_int8_linear(const float* w, int out, int in);
void quantize_int8_acts(const float* x, int n, int in, Int8Acts& out);
// y [n x out] = dequant(W) dequant(x)^T; table nullptr = active ISA. OpenMP across rows.
void int8_gemm(const Int8Linear& w, const Int8Acts& x, float* y, const KernelTable* table = nullptr);
// Integer dot products only: out[t*rows + j] (exact; for cross-ISA tests).
void int8_int_dots(const Int8Linear& w, const Int8Acts& x, std::vector<int32_t>& out,
                   const KernelTable* table = nullptr);

}  // namespace binq
