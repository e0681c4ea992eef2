// Per-ISA loops of the activation quantizer (act_quant.cpp holds the logic around them). Each
// function gives bit-identical results on every ISA: act_quant_scalar.cpp is the reference
// (the quantizer's original loops), act_quant_avx2.cpp / act_quant_avx512.cpp vectorize it, and
// act_quant_kernels_test.cpp compares them on awkward widths.
// Raw pointers only, no inline functions: the ISA translation units include this (see
// kernel_table.h for why).
#pragma once
#include <cstdint>

namespace binq {

struct ActQuantKernels {
  const char* name;
  // out[i] = x[perm[i]] for i < n.
  void (*gather)(const float* x, const int32_t* perm, int n, float* out);
  // Minimum and maximum of x[0..n), n >= 1; false (lo/hi unspecified) if any x is NaN. Which of
  // +0 / -0 is returned when both occur is unspecified: the quantizer only uses lo/hi in ways
  // where the sign of a zero makes no difference (act_quant.cpp, quantize_range).
  bool (*min_max)(const float* x, int n, float* lo, float* hi);
  // xq[i] = clamp(nearbyint(x[i] / mu) + zf, 0, levels) for i < n (mu > 0, zf integral).
  void (*codes)(const float* x, int n, float mu, float zf, int levels, uint8_t* xq);
  // cnt[v] = #{i < n : xq[i] == v} for v <= levels; levels <= 15 except in the scalar kernels
  // (the SIMD ones compare once per level).
  void (*code_counts)(const uint8_t* xq, int n, int levels, int32_t* cnt);
  // Bit-planes of n codes: words[w * n_planes + a] = bit a of xq[64w .. 64w+63] (bit i <- code
  // 64w + i, zero past n) for w < ceil(n / 64), a < n_planes <= 8; pop[a] = popcount of plane a.
  void (*bit_planes)(const uint8_t* xq, int n, int n_planes, uint64_t* words, int32_t* pop);
  // q[i] = clamp(nearbyint(x[i] / s), -qmax, qmax) for i < n (s > 0).
  void (*outlier_codes)(const float* x, int n, float s, int qmax, int8_t* q);
};

namespace detail {
const ActQuantKernels& act_quant_scalar();
const ActQuantKernels& act_quant_avx2();
const ActQuantKernels& act_quant_avx512();
}  // namespace detail

}  // namespace binq
