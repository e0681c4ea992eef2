// INT4 KV attention kernels, AVX2 (see kernels/kv_int4.h and kv_attn_avx512.cpp): 8 packed bytes
// = 16 elements per step, even / odd nibbles widened to 8 int32 lanes each. A short last step copies
// the remaining bytes into a zeroed 8-byte word.
// No std:: templates or inline header functions here (see kernel_table.h).
#include <immintrin.h>

#include <cstring>

#include "binq/kernels/kernel_table.h"

namespace binq::detail {
namespace {

struct Nib16 {
  __m256 lo, hi;
};
inline Nib16 load16(const uint8_t* g, int i, int gb, __m256i z) {
  uint64_t bytes = 0;
  std::memcpy(&bytes, g + i, gb - i >= 8 ? 8 : size_t(gb - i));
  const __m128i v = _mm_cvtsi64_si128(int64_t(bytes));
  const __m128i m4 = _mm_set1_epi8(15);
  const __m256i lo = _mm256_cvtepu8_epi32(_mm_and_si128(v, m4));
  const __m256i hi = _mm256_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(v, 4), m4));
  return {_mm256_cvtepi32_ps(_mm256_sub_epi32(lo, z)), _mm256_cvtepi32_ps(_mm256_sub_epi32(hi, z))};
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace

void kv_scores_avx2(const float* qe, const float* qo, int head_dim, const uint8_t* nib,
                    const KvInt4Params* prm, int64_t stride, int n, float alpha, float* scores) {
  const int gb = (head_dim + 1) / 2;
  for (int t = 0; t < n; ++t) {
    const uint8_t* g = nib + int64_t(t) * stride * gb;
    const KvInt4Params p = prm[int64_t(t) * stride];
    const __m256i z = _mm256_set1_epi32(p.zero);
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int i = 0; i < gb; i += 8) {
      const Nib16 v = load16(g, i, gb, z);
      a0 = _mm256_fmadd_ps(v.lo, _mm256_loadu_ps(qe + i), a0);
      a1 = _mm256_fmadd_ps(v.hi, _mm256_loadu_ps(qo + i), a1);
    }
    scores[t] = alpha * _cvtsh_ss(p.scale) * hsum(_mm256_add_ps(a0, a1));
  }
}

void kv_wsum_avx2(const float* pw, int n, const uint8_t* nib, const KvInt4Params* prm,
                  int64_t stride, int head_dim, float* oe, float* oo) {
  const int gb = (head_dim + 1) / 2;
  for (int i = 0; i < gb; i += 16) {  // 32 elements per pass, 4 accumulators in registers
    const bool two = gb - i > 8;
    __m256 e0 = _mm256_setzero_ps(), o0 = e0, e1 = e0, o1 = e0;
    for (int t = 0; t < n; ++t) {
      const uint8_t* g = nib + int64_t(t) * stride * gb;
      const KvInt4Params p = prm[int64_t(t) * stride];
      const __m256i z = _mm256_set1_epi32(p.zero);
      const __m256 w = _mm256_set1_ps(pw[t] * _cvtsh_ss(p.scale));
      const Nib16 v = load16(g, i, gb, z);
      e0 = _mm256_fmadd_ps(v.lo, w, e0);
      o0 = _mm256_fmadd_ps(v.hi, w, o0);
      if (two) {
        const Nib16 u = load16(g, i + 8, gb, z);
        e1 = _mm256_fmadd_ps(u.lo, w, e1);
        o1 = _mm256_fmadd_ps(u.hi, w, o1);
      }
    }
    _mm256_storeu_ps(oe + i, e0);
    _mm256_storeu_ps(oo + i, o0);
    if (two) {
      _mm256_storeu_ps(oe + i + 8, e1);
      _mm256_storeu_ps(oo + i + 8, o1);
    }
  }
}

}  // namespace binq::detail
