// INT4 KV attention kernels, AVX-512 (see kernels/kv_int4.h). 16 packed bytes = 32 elements per
// step: low nibbles (even elements) and high nibbles (odd elements) widen to 16 int32 lanes each,
// q - z is formed in integers, converted once and multiplied with the de-interleaved query (scores)
// or accumulated with weight p_t mu_t (weighted sum). A short last step uses masked loads (the
// nibbles past the group and the padded query entries are zero).
// No std:: templates or inline header functions here (see kernel_table.h).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "binq/kernels/kernel_table.h"

namespace binq::detail {
namespace {

struct Nib32 {
  __m512 lo, hi;  // (q - z) of the even / odd elements
};
inline Nib32 load32(const uint8_t* g, int i, int gb, __m512i z) {
  const int left = gb - i;
  const __m128i v = left >= 16 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(g + i))
                               : _mm_maskz_loadu_epi8(__mmask16((1u << left) - 1), g + i);
  const __m128i m4 = _mm_set1_epi8(15);
  const __m512i lo = _mm512_cvtepu8_epi32(_mm_and_si128(v, m4));
  const __m512i hi = _mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(v, 4), m4));
  return {_mm512_cvtepi32_ps(_mm512_sub_epi32(lo, z)), _mm512_cvtepi32_ps(_mm512_sub_epi32(hi, z))};
}

}  // namespace

void kv_scores_avx512(const float* qe, const float* qo, int head_dim, const uint8_t* nib,
                      const KvInt4Params* prm, int64_t stride, int n, float alpha, float* scores) {
  const int gb = (head_dim + 1) / 2;
  for (int t = 0; t < n; ++t) {
    const uint8_t* g = nib + int64_t(t) * stride * gb;
    const KvInt4Params p = prm[int64_t(t) * stride];
    const __m512i z = _mm512_set1_epi32(p.zero);
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    for (int i = 0; i < gb; i += 16) {
      const Nib32 v = load32(g, i, gb, z);
      // Past the group the nibbles are 0 so q - z = -z: the zero padding of qe/qo cancels it.
      a0 = _mm512_fmadd_ps(v.lo, _mm512_loadu_ps(qe + i), a0);
      a1 = _mm512_fmadd_ps(v.hi, _mm512_loadu_ps(qo + i), a1);
    }
    scores[t] = alpha * _cvtsh_ss(p.scale) * _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  }
}

void kv_wsum_avx512(const float* pw, int n, const uint8_t* nib, const KvInt4Params* prm,
                    int64_t stride, int head_dim, float* oe, float* oo) {
  const int gb = (head_dim + 1) / 2;
  for (int i = 0; i < gb; i += 32) {  // 64 elements per pass, 4 accumulators in registers
    const bool two = gb - i > 16;
    __m512 e0 = _mm512_setzero_ps(), o0 = e0, e1 = e0, o1 = e0;
    for (int t = 0; t < n; ++t) {
      const uint8_t* g = nib + int64_t(t) * stride * gb;
      const KvInt4Params p = prm[int64_t(t) * stride];
      const __m512i z = _mm512_set1_epi32(p.zero);
      const __m512 w = _mm512_set1_ps(pw[t] * _cvtsh_ss(p.scale));
      const Nib32 v = load32(g, i, gb, z);
      e0 = _mm512_fmadd_ps(v.lo, w, e0);
      o0 = _mm512_fmadd_ps(v.hi, w, o0);
      if (two) {
        const Nib32 u = load32(g, i + 16, gb, z);
        e1 = _mm512_fmadd_ps(u.lo, w, e1);
        o1 = _mm512_fmadd_ps(u.hi, w, o1);
      }
    }
    _mm512_storeu_ps(oe + i, e0);
    _mm512_storeu_ps(oo + i, o0);
    if (two) {
      _mm512_storeu_ps(oe + i + 16, e1);
      _mm512_storeu_ps(oo + i + 16, o1);
    }
  }
}

}  // namespace binq::detail
