// Activation-quantizer loops, AVX2: 8 floats or 32 codes per step. A short tail is copied into a
// padded local block and run through the same vector body.
// Bit-identical to act_quant_scalar.cpp for the reasons given in act_quant_avx512.cpp.
// No std:: templates or inline header functions here (see kernel_table.h).
#include <immintrin.h>

#include "binq/kernels/act_quant_kernels.h"

namespace binq {
namespace {

constexpr int kRoundCurrent = _MM_FROUND_CUR_DIRECTION | _MM_FROUND_NO_EXC;

void gather(const float* x, const int32_t* perm, int n, float* out) {
  int i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_i32gather_ps(x, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(perm + i)), 4));
  for (; i < n; ++i) out[i] = x[perm[i]];
}

float hmin(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_min_ss(m, _mm_movehdup_ps(m)));
}

float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

bool min_max(const float* x, int n, float* lo, float* hi) {
  const __m256 first = _mm256_set1_ps(x[0]);
  __m256 l = first, h = first;
  int nan = 0;
  for (int i = 0; i < n; i += 8) {
    __m256 v;
    if (n - i >= 8) {
      v = _mm256_loadu_ps(x + i);
    } else {  // lanes past n hold x[0], which changes neither the minimum nor the maximum
      float buf[8];
      for (int k = 0; k < 8; ++k) buf[k] = i + k < n ? x[i + k] : x[0];
      v = _mm256_loadu_ps(buf);
    }
    l = _mm256_min_ps(l, v);
    h = _mm256_max_ps(h, v);
    nan |= _mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  }
  *lo = hmin(l);
  *hi = hmax(h);
  return nan == 0;
}

// out[i] = clamp(nearbyint(x[i] / div) + add, lo, hi) as bytes: the low byte of each int32, so
// both the unsigned codes 0..255 and the signed outliers -127..127 come out right.
void round_clamp_bytes(const float* x, int n, float div, float add, float lo, float hi, void* out) {
  const __m256 vd = _mm256_set1_ps(div), va = _mm256_set1_ps(add);
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  const __m256i low_bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                             0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i lanes = _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0);
  auto eight = [&](const float* src) {
    __m256 r = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(src), vd), kRoundCurrent);
    r = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(r, va), vlo), vhi);
    return _mm256_castsi256_si128(
        _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(_mm256_cvtps_epi32(r), low_bytes), lanes));
  };
  uint8_t* o = static_cast<uint8_t*>(out);
  int i = 0;
  for (; i + 8 <= n; i += 8) _mm_storel_epi64(reinterpret_cast<__m128i*>(o + i), eight(x + i));
  if (i < n) {
    float in[8] = {};
    for (int k = 0; i + k < n; ++k) in[k] = x[i + k];
    const uint64_t b = uint64_t(_mm_cvtsi128_si64(eight(in)));
    for (int k = 0; i + k < n; ++k) o[i + k] = uint8_t(b >> (8 * k));
  }
}

void codes(const float* x, int n, float mu, float zf, int levels, uint8_t* xq) {
  round_clamp_bytes(x, n, mu, zf, 0.0f, float(levels), xq);
}

void outlier_codes(const float* x, int n, float s, int qmax, int8_t* q) {
  round_clamp_bytes(x, n, s, 0.0f, -float(qmax), float(qmax), q);
}

// 32 codes from xq + i, zero past n.
__m256i load32(const uint8_t* xq, int i, int n) {
  if (n - i >= 32) return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + i));
  alignas(32) uint8_t buf[32] = {};
  for (int k = 0; i + k < n; ++k) buf[k] = xq[i + k];
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(buf));
}

uint32_t valid32(int left) { return left >= 32 ? ~0u : (1u << left) - 1; }

void code_counts(const uint8_t* xq, int n, int levels, int32_t* cnt) {
  for (int v = 0; v <= levels; ++v) cnt[v] = 0;
  for (int i = 0; i < n; i += 32) {
    const __m256i c = load32(xq, i, n);
    const uint32_t valid = valid32(n - i);
    for (int v = 0; v <= levels; ++v) {
      const uint32_t eq = uint32_t(_mm256_movemask_epi8(_mm256_cmpeq_epi8(c, _mm256_set1_epi8(char(v)))));
      cnt[v] += _mm_popcnt_u32(eq & valid);
    }
  }
}

void bit_planes(const uint8_t* xq, int n, int n_planes, uint64_t* words, int32_t* pop) {
  for (int a = 0; a < n_planes; ++a) pop[a] = 0;
  for (int w = 0; 64 * w < n; ++w) {
    const __m256i c0 = load32(xq, 64 * w, n), c1 = load32(xq, 64 * w + 32, n);
    for (int a = 0; a < n_planes; ++a) {
      // Shifting each 16-bit lane left by 7 - a moves bit a of both its bytes to their top bits.
      const __m128i s = _mm_cvtsi32_si128(7 - a);
      const uint32_t lo = uint32_t(_mm256_movemask_epi8(_mm256_sll_epi16(c0, s)));
      const uint32_t hi = uint32_t(_mm256_movemask_epi8(_mm256_sll_epi16(c1, s)));
      const uint64_t v = uint64_t(lo) | uint64_t(hi) << 32;
      words[w * n_planes + a] = v;
      pop[a] += int32_t(_mm_popcnt_u64(v));
    }
  }
}

constexpr ActQuantKernels kKernels = {"avx2", gather, min_max, codes, code_counts, bit_planes, outlier_codes};

}  // namespace

const ActQuantKernels& detail::act_quant_avx2() { return kKernels; }

}  // namespace binq
