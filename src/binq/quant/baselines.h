// Weight-side baselines of method.md §7, all returning dequantized FP32 weights in the ORIGINAL
// column order ([out x in] row-major) so the model can run them through DenseLinear.
#pragma once
#include <cstdint>
#include <vector>

#include "binq/quant/hessian.h"

namespace binq {

// Per-row asymmetric uniform grid (GPTQ's quantizer: the range always contains 0, so an exact
// zero survives): scale = (max - min) / (2^bits - 1), zero = round(-min / scale).
struct UniformGrid {
  float scale = 1, zero = 0, maxq = 1;
  static UniformGrid fit(const float* w, int n, int bits);
  float quantize(float w) const;  // dequantized value of the nearest grid point
};

// RTN W{bits}: per-channel (row) asymmetric, round to nearest.
std::vector<float> rtn_quantize(const float* W, int out, int in, int bits);

struct UniformGptqConfig {
  int bits = 4;
  int n_outliers = 128;   // last K channels after reordering, INT8 symmetric per row
  int group_size = 0;     // 0: one grid per row over all normal channels; else per group
  int block_size = 128;   // GPTQ lazy-batch width (affects speed only, not the result)
  bool reorder = true;    // sort channels by diag(H) ascending (act-order, Atom)
  double percdamp = 0.01;
};

struct DequantizedLayer {
  std::vector<float> weight;   // [out x in], original column order
  std::vector<int32_t> perm;   // permutation used (identity if not reordered)
  double proxy_loss = 0;       // sum (w - q)^2 / U_ii^2 over all rounded weights
  double bits_per_weight = 0;  // everything stored, scales included
  int64_t salient_columns = 0; // BiLLM only
};

// Atom-style GPTQ W{bits}: reorder, column-wise GPTQ with lazy batches, K INT8 outliers
// quantized last. H: finalized, undamped, unpermuted; perm empty = computed from H.
DequantizedLayer gptq_uniform_quantize(const float* W, int out, int in,
                                       const std::vector<double>& H, std::vector<int32_t> perm,
                                       const UniformGptqConfig& cfg, const char* name);
// Same with the Hessian already prepared in the PERMUTED order (shared by q/k/v, gate/up).
DequantizedLayer gptq_uniform_quantize(const float* W, int out, int in, const PreparedHessian& ph,
                                       std::vector<int32_t> perm, const UniformGptqConfig& cfg,
                                       const char* name);

struct BillmConfig {
  int block_size = 128;
  double percdamp = 0.01;
  // Candidate counts of salient columns per block; the one with least Hessian-weighted error
  // is kept per block.
  std::vector<int> salient_candidates = {0, 1, 2, 4, 8, 16, 32};
};

// BiLLM-style W(1+1): no reorder, no outliers. Per block: salient columns (largest
// sum_j w^2 / U_cc^2) get residual (2-pass) binarization; the rest of each row is split by |w|
// into two groups, each sign-binarized (split searched per row); block-level compensation.
// Bits: sign bit for every weight + 1 more (residual bit for salient, group bit otherwise),
// 8 FP16 per (row, block) and a 1-bit salient-column mask per column.
DequantizedLayer billm_quantize(const float* W, int out, int in, const std::vector<double>& H,
                                const BillmConfig& cfg, const char* name);
// Same with the (unpermuted) Hessian already prepared.
DequantizedLayer billm_quantize(const float* W, int out, int in, const PreparedHessian& ph,
                                const BillmConfig& cfg, const char* name);

}  // namespace binq
