// AVX2 kernels: popcounts with the scalar POPCNT instruction on 64-bit words (AND/ANDN in GPRs,
// four ALU ports), the per-plane counts packed 16 bits apart into one 64-bit integer per count
// type and widened to 4 float lanes (one lane per plane) for the weighting. INT8 products use the
// VPMADDUBSW sign trick (|w| as u8, sign(w)*x as s8, no saturation since |x| <= 127, |w| <= 128).
// No std:: templates or inline header functions here (see kernel_table.h).
#include <immintrin.h>

#include <cstring>

#include "binq/kernels/kernel_table.h"

namespace binq {
namespace {

constexpr int kTokTile = 4;

inline uint64_t pc(uint64_t v) { return uint64_t(_mm_popcnt_u64(v)); }
inline float fp16(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum128(__m128 s) {
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

void row_params(const BinaryLayerView& w, const uint8_t* row, float* sc) {
  const int nb = w.n_blocks;
  const uint16_t* prm = reinterpret_cast<const uint16_t*>(row + w.params_offset);
  int l = 0;
  for (; l + 8 <= nb; l += 8) {
    auto ld = [&](int k) {
      return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(prm + k * nb + l)));
    };
    const __m256 lo0 = ld(0), d0 = ld(1), lo1 = ld(2), d1 = ld(3);
    _mm256_storeu_ps(sc + l, _mm256_sub_ps(d1, d0));
    _mm256_storeu_ps(sc + nb + l, d0);
    _mm256_storeu_ps(sc + 2 * nb + l, _mm256_sub_ps(lo1, lo0));
    _mm256_storeu_ps(sc + 3 * nb + l, lo0);
  }
  for (; l < nb; ++l) {
    const float lo0 = fp16(prm[l]), d0 = fp16(prm[nb + l]);
    sc[l] = fp16(prm[3 * nb + l]) - d0;
    sc[nb + l] = d0;
    sc[2 * nb + l] = fp16(prm[2 * nb + l]) - lo0;
    sc[3 * nb + l] = lo0;
  }
}

inline float dot_f32(const float* a, const float* b, int n) {
  __m256 acc = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  float s = hsum128(_mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1)));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// 32 bytes of w . x (s8 x s8) accumulated into int32 lanes.
inline __m256i madd_i8(__m256i acc, __m256i wv, __m256i xv) {
  const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(wv), _mm256_sign_epi8(xv, wv));
  return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

inline int32_t dot_i8(const int8_t* w, const int8_t* x, int k_pad) {
  __m256i acc = _mm256_setzero_si256();
  for (int k = 0; k < k_pad; k += 32)
    acc = madd_i8(acc, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k)),
                  _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + k)));
  return hsum_epi32(acc);
}

// Counts of one (row, block, token) packed per type: plane a in bits [16a, 16a+16).
struct Packed3 {
  uint64_t a1, qb, n1;
};
inline Packed3 block_counts(const uint8_t* bits, const uint64_t* b, int64_t c0, int nck) {
  Packed3 r{0, 0, 0};
  for (int ck = 0; ck < nck; ++ck) {
    uint64_t q[2], s[2];
    std::memcpy(q, bits + (c0 + ck) * 32, 16);
    std::memcpy(s, bits + (c0 + ck) * 32 + 16, 16);
    const uint64_t qs0 = q[0] & s[0], qs1 = q[1] & s[1];
    const uint64_t* p = b + (c0 + ck) * 8;
    for (int a = 0; a < 4; ++a) {
      const uint64_t b0 = p[2 * a], b1 = p[2 * a + 1];
      const int sh = 16 * a;
      r.a1 += (pc(b0 & qs0) + pc(b1 & qs1)) << sh;
      r.qb += (pc(b0 & q[0]) + pc(b1 & q[1])) << sh;
      r.n1 += (pc(b0 & s[0]) + pc(b1 & s[1])) << sh;
    }
  }
  return r;
}

inline __m128 lanes(uint64_t packed) {
  return _mm_cvtepi32_ps(_mm_cvtepu16_epi32(_mm_cvtsi64_si128(int64_t(packed))));
}

template <int T>
void binary_rows_tokens(const BinaryLayerView& w, const ActsView& x, const uint8_t* row,
                        const float* sc, int t0, float* out) {
  const int nb = w.n_blocks, cpb = w.chunks_per_block;
  const uint8_t* bits = row + w.bits_offset;
  __m128 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm_setzero_ps();
  for (int l = 0; l < nb; ++l) {
    const int nck = (l == nb - 1) ? w.last_chunks : cpb;
    const __m128 e1 = _mm_set1_ps(sc[l]), d0 = _mm_set1_ps(sc[nb + l]), e3 = _mm_set1_ps(sc[2 * nb + l]);
    for (int t = 0; t < T; ++t) {
      const Packed3 p = block_counts(bits, x.planes + int64_t(t0 + t) * x.n_chunks * 8, int64_t(l) * cpb, nck);
      __m128 f = _mm_mul_ps(lanes(p.a1), e1);
      f = _mm_fmadd_ps(lanes(p.qb), d0, f);
      acc[t] = _mm_add_ps(acc[t], _mm_fmadd_ps(lanes(p.n1), e3, f));
    }
  }
  for (int t = 0; t < T; ++t) out[t] = hsum128(_mm_mul_ps(acc[t], _mm_loadu_ps(x.m + (t0 + t) * 4)));
}

void gemm_avx2(const BinaryLayerView& w, const ActsView& x, int r0, int r1, float* y, float* scratch) {
  const int nb = w.n_blocks, n = x.n_tokens;
  for (int j = r0; j < r1; ++j) {
    const uint8_t* row = w.rows + int64_t(j) * w.row_stride;
    RowHeader h;
    std::memcpy(&h, row, sizeof h);
    row_params(w, row, scratch);
    const float wscale = fp16(h.outlier_scale);
    const int8_t* ow = reinterpret_cast<const int8_t*>(row + w.outlier_offset);
    for (int t0 = 0; t0 < n; t0 += kTokTile) {
      const int T = n - t0 < kTokTile ? n - t0 : kTokTile;
      float res[kTokTile] = {0, 0, 0, 0};
      if (nb > 0) {
        switch (T) {
          case 4: binary_rows_tokens<4>(w, x, row, scratch, t0, res); break;
          case 3: binary_rows_tokens<3>(w, x, row, scratch, t0, res); break;
          case 2: binary_rows_tokens<2>(w, x, row, scratch, t0, res); break;
          default: binary_rows_tokens<1>(w, x, row, scratch, t0, res); break;
        }
      }
      for (int t = 0; t < T; ++t) {
        const int tt = t0 + t;
        float acc = res[t];
        if (nb > 0) acc += dot_f32(scratch + 3 * nb, x.lo_term + int64_t(tt) * nb, nb);
        acc += x.mc[tt] * h.rowsum;
        if (w.K > 0)
          acc += wscale * x.outlier_scale[tt] * float(dot_i8(ow, x.outlier_q + int64_t(tt) * x.k_pad, w.k_pad));
        y[int64_t(tt) * w.out + j] = acc;
      }
    }
  }
}

void counts_avx2(const BinaryLayerView& w, const ActsView& x, int r0, int r1, int32_t* counts,
                 int32_t* odot) {
  const int nb = w.n_blocks, cpb = w.chunks_per_block;
  for (int t = 0; t < x.n_tokens; ++t) {
    const uint64_t* pl = x.planes + int64_t(t) * x.n_chunks * 8;
    for (int j = r0; j < r1; ++j) {
      const uint8_t* row = w.rows + int64_t(j) * w.row_stride;
      for (int l = 0; l < nb; ++l) {
        const Packed3 p = block_counts(row + w.bits_offset, pl, int64_t(l) * cpb,
                                       l == nb - 1 ? w.last_chunks : cpb);
        int32_t* c = counts + ((int64_t(t) * w.out + j) * nb + l) * 12;
        for (int a = 0; a < 4; ++a) {
          c[a * 3 + 0] = int32_t((p.a1 >> (16 * a)) & 0xFFFF);
          c[a * 3 + 1] = int32_t((p.qb >> (16 * a)) & 0xFFFF);
          c[a * 3 + 2] = int32_t((p.n1 >> (16 * a)) & 0xFFFF);
        }
      }
      odot[int64_t(t) * w.out + j] = dot_i8(reinterpret_cast<const int8_t*>(row + w.outlier_offset),
                                           x.outlier_q + int64_t(t) * x.k_pad, w.k_pad);
    }
  }
}

template <int R, int T>
void int8_tile(const int8_t* wm, int rows, int ld, const int8_t* x, int j0, int t0, int32_t* out) {
  __m256i acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_si256();
  for (int k = 0; k < ld; k += 32) {
    __m256i wv[R];
    for (int r = 0; r < R; ++r)
      wv[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wm + int64_t(j0 + r) * ld + k));
    for (int t = 0; t < T; ++t) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + int64_t(t0 + t) * ld + k));
      for (int r = 0; r < R; ++r) acc[r][t] = madd_i8(acc[r][t], wv[r], xv);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) out[int64_t(t0 + t) * rows + j0 + r] = hsum_epi32(acc[r][t]);
}

template <int R>
void int8_rows(const int8_t* wm, int rows, int ld, const int8_t* x, int n, int j0, int32_t* out) {
  int t0 = 0;
  for (; t0 + 2 <= n; t0 += 2) int8_tile<R, 2>(wm, rows, ld, x, j0, t0, out);
  for (; t0 < n; ++t0) int8_tile<R, 1>(wm, rows, ld, x, j0, t0, out);
}

void int8_dot_avx2(const int8_t* wm, const int32_t* wsum, int rows, int ld, const int8_t* x,
                   int n_tokens, int r0, int r1, int32_t* out) {
  int j = r0;
  for (; j + 4 <= r1; j += 4) int8_rows<4>(wm, rows, ld, x, n_tokens, j, out);
  for (; j < r1; ++j) int8_rows<1>(wm, rows, ld, x, n_tokens, j, out);
}

const KernelTable kTable{"avx2", counts_avx2, gemm_avx2, int8_dot_avx2};

}  // namespace

const KernelTable& detail::table_avx2() { return kTable; }

}  // namespace binq
