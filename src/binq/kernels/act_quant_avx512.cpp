// Activation-quantizer loops, AVX-512 (F, BW): 16 floats or 64 codes per step, masked tails.
// Bit-identical to act_quant_scalar.cpp: vdivps is the same IEEE division as divss, vrndscaleps
// with the MXCSR rounding mode is nearbyint, min/max clamps of non-NaN values equal std::clamp up
// to the sign of a zero, which the integer conversion drops.
// No std:: templates or inline header functions here (see kernel_table.h).
// GCC 12's intrinsics headers trip these on _mm512_undefined_*() (as in kv_attn_avx512.cpp).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "binq/kernels/act_quant_kernels.h"

namespace binq {
namespace {

constexpr int kRoundCurrent = _MM_FROUND_CUR_DIRECTION | _MM_FROUND_NO_EXC;

__mmask16 tail16(int left) { return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1); }
__mmask64 tail64(int left) { return left >= 64 ? ~__mmask64(0) : (__mmask64(1) << left) - 1; }

void gather(const float* x, const int32_t* perm, int n, float* out) {
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = tail16(n - i);
    const __m512i idx = _mm512_maskz_loadu_epi32(m, perm + i);
    _mm512_mask_storeu_ps(out + i, m, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, x, 4));
  }
}

bool min_max(const float* x, int n, float* lo, float* hi) {
  // Lanes past n hold x[0], which changes neither the minimum nor the maximum.
  const __m512 first = _mm512_set1_ps(x[0]);
  __m512 l = first, h = first;
  __mmask16 nan = 0;
  for (int i = 0; i < n; i += 16) {
    const __m512 v = _mm512_mask_loadu_ps(first, tail16(n - i), x + i);
    l = _mm512_min_ps(l, v);
    h = _mm512_max_ps(h, v);
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  }
  *lo = _mm512_reduce_min_ps(l);
  *hi = _mm512_reduce_max_ps(h);
  return nan == 0;
}

// out[i] = clamp(nearbyint(x[i] / div) + add, lo, hi) as bytes (the low byte of the int32, so
// both the unsigned codes 0..255 and the signed outliers -127..127 come out right).
void round_clamp_bytes(const float* x, int n, float div, float add, float lo, float hi, void* out) {
  const __m512 vd = _mm512_set1_ps(div), va = _mm512_set1_ps(add);
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  uint8_t* o = static_cast<uint8_t*>(out);
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = tail16(n - i);
    __m512 r = _mm512_roundscale_ps(_mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), vd), kRoundCurrent);
    r = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(r, va), vlo), vhi);
    _mm512_mask_cvtepi32_storeu_epi8(o + i, m, _mm512_cvtps_epi32(r));
  }
}

void codes(const float* x, int n, float mu, float zf, int levels, uint8_t* xq) {
  round_clamp_bytes(x, n, mu, zf, 0.0f, float(levels), xq);
}

void outlier_codes(const float* x, int n, float s, int qmax, int8_t* q) {
  round_clamp_bytes(x, n, s, 0.0f, -float(qmax), float(qmax), q);
}

void code_counts(const uint8_t* xq, int n, int levels, int32_t* cnt) {
  for (int v = 0; v <= levels; ++v) cnt[v] = 0;
  for (int i = 0; i < n; i += 64) {
    const __mmask64 m = tail64(n - i);
    const __m512i c = _mm512_maskz_loadu_epi8(m, xq + i);
    for (int v = 0; v <= levels; ++v)
      cnt[v] += int32_t(_mm_popcnt_u64(_mm512_mask_cmpeq_epi8_mask(m, c, _mm512_set1_epi8(char(v)))));
  }
}

void bit_planes(const uint8_t* xq, int n, int n_planes, uint64_t* words, int32_t* pop) {
  for (int a = 0; a < n_planes; ++a) pop[a] = 0;
  for (int w = 0; 64 * w < n; ++w) {
    const __m512i c = _mm512_maskz_loadu_epi8(tail64(n - 64 * w), xq + 64 * w);  // zero past n
    for (int a = 0; a < n_planes; ++a) {
      const uint64_t v = _mm512_test_epi8_mask(c, _mm512_set1_epi8(char(1 << a)));
      words[w * n_planes + a] = v;
      pop[a] += int32_t(_mm_popcnt_u64(v));
    }
  }
}

constexpr ActQuantKernels kKernels = {"avx512", gather, min_max, codes, code_counts, bit_planes, outlier_codes};

}  // namespace

const ActQuantKernels& detail::act_quant_avx512() { return kKernels; }

}  // namespace binq
