// AVX-512 kernels (F/BW/VL/DQ + VPOPCNTDQ + VNNI). One 128-bit chunk of a block against the four
// activation planes of a token is one zmm: lanes (plane a, word w) = 4 x 2 qwords. Sign and bitmap
// of the chunk are broadcast to all four 128-bit lanes, three VPOPCNTQ give pc(q&s&b), pc(q&b),
// pc(s&b) per lane, converted to float and weighted by the block's (d1-d0, d0, lo1-lo0). The
// per-lane sums are weighted by m_a only once per (row, token). Outliers: VPDPBUSD with the
// activations offset to u8 (x + 128) and the row's weight sum subtracted.
// No std:: templates or inline header functions here (see kernel_table.h).
// GCC 12 reports false "uninitialized" warnings inside its AVX-512 headers (_mm512_undefined_*).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "binq/kernels/kernel_table.h"

namespace binq {
namespace {

constexpr int kTokTile = 4;

inline __m512i bcast128(const uint8_t* p) {
  return _mm512_broadcast_i64x2(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float fp16(uint16_t h) { return _cvtsh_ss(h); }

// FP16 params of one row -> e1 = d1-d0, d0, e3 = lo1-lo0, lo0 (fp32, each nb long).
void row_params(const BinaryLayerView& w, const uint8_t* row, float* sc) {
  const int nb = w.n_blocks;
  const uint16_t* prm = reinterpret_cast<const uint16_t*>(row + w.params_offset);
  for (int l = 0; l < nb; l += 16) {
    const __mmask16 m = nb - l >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (nb - l)) - 1);
    auto ld = [&](int k) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, prm + k * nb + l)); };
    const __m512 lo0 = ld(0), d0 = ld(1), lo1 = ld(2), d1 = ld(3);
    _mm512_mask_storeu_ps(sc + l, m, _mm512_sub_ps(d1, d0));
    _mm512_mask_storeu_ps(sc + nb + l, m, d0);
    _mm512_mask_storeu_ps(sc + 2 * nb + l, m, _mm512_sub_ps(lo1, lo0));
    _mm512_mask_storeu_ps(sc + 3 * nb + l, m, lo0);
  }
}

inline float dot_f32(const float* a, const float* b, int n) {
  __m512 acc = _mm512_setzero_ps();
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

// sum_k w[k] * x[k] over k_pad bytes (multiple of 32) via u8 x s8 VNNI: (x + 128) . w - 128 sum(w).
inline int32_t dot_i8(const int8_t* w, const int8_t* x, int k_pad, int32_t wsum) {
  const __m512i off = _mm512_set1_epi8(char(0x80));
  __m512i acc = _mm512_setzero_si512();
  int k = 0;
  for (; k + 64 <= k_pad; k += 64)
    acc = _mm512_dpbusd_epi32(acc, _mm512_xor_si512(_mm512_loadu_si512(x + k), off),
                              _mm512_loadu_si512(w + k));
  if (k < k_pad) {
    const __mmask64 m = 0xFFFFFFFFull;
    acc = _mm512_dpbusd_epi32(acc, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, x + k), off),
                              _mm512_maskz_loadu_epi8(m, w + k));
  }
  return _mm512_reduce_add_epi32(acc) - 128 * wsum;
}

// Popcounts of one chunk (qwords: lanes (plane, word)).
struct Pc3 {
  __m512i a1, qb, n1;
};
inline Pc3 chunk_pc(__m512i b, __m512i q, __m512i s, __m512i qs) {
  return {_mm512_popcnt_epi64(_mm512_and_si512(b, qs)), _mm512_popcnt_epi64(_mm512_and_si512(b, q)),
          _mm512_popcnt_epi64(_mm512_and_si512(b, s))};
}

inline __m256 weigh(const Pc3& p, __m256 e1, __m256 d0, __m256 e3) {
  __m256 f = _mm256_mul_ps(_mm512_cvtepi64_ps(p.a1), e1);
  f = _mm256_fmadd_ps(_mm512_cvtepi64_ps(p.qb), d0, f);
  return _mm256_fmadd_ps(_mm512_cvtepi64_ps(p.n1), e3, f);
}

// Binary part of rows j x tokens [t0, t0+T): returns sum_lanes(acc * M) in out[t].
template <int T>
void binary_rows_tokens(const BinaryLayerView& w, const ActsView& x, const uint8_t* row,
                        const float* sc, int t0, float* out) {
  const int nb = w.n_blocks, cpb = w.chunks_per_block;
  const float* e1 = sc;
  const float* d0 = sc + nb;
  const float* e3 = sc + 2 * nb;
  const uint8_t* bits = row + w.bits_offset;
  const uint64_t* pl[T];
  __m256 acc0[T], acc1[T];
  for (int t = 0; t < T; ++t) {
    pl[t] = x.planes + int64_t(t0 + t) * x.n_chunks * 8;
    acc0[t] = _mm256_setzero_ps();
    acc1[t] = _mm256_setzero_ps();
  }
  if (cpb == 1) {  // every block is one chunk (B <= 128): the fast path
    int l = 0;
    for (; l + 2 <= nb; l += 2) {
      const __m512i q0 = bcast128(bits + l * 32), s0 = bcast128(bits + l * 32 + 16);
      const __m512i q1 = bcast128(bits + l * 32 + 32), s1 = bcast128(bits + l * 32 + 48);
      const __m512i qs0 = _mm512_and_si512(q0, s0), qs1 = _mm512_and_si512(q1, s1);
      const __m256 e1a = _mm256_set1_ps(e1[l]), d0a = _mm256_set1_ps(d0[l]), e3a = _mm256_set1_ps(e3[l]);
      const __m256 e1b = _mm256_set1_ps(e1[l + 1]), d0b = _mm256_set1_ps(d0[l + 1]),
                   e3b = _mm256_set1_ps(e3[l + 1]);
      for (int t = 0; t < T; ++t) {
        const __m512i b0 = _mm512_loadu_si512(pl[t] + l * 8);
        const __m512i b1 = _mm512_loadu_si512(pl[t] + l * 8 + 8);
        acc0[t] = _mm256_add_ps(acc0[t], weigh(chunk_pc(b0, q0, s0, qs0), e1a, d0a, e3a));
        acc1[t] = _mm256_add_ps(acc1[t], weigh(chunk_pc(b1, q1, s1, qs1), e1b, d0b, e3b));
      }
    }
    if (l < nb) {
      const __m512i q0 = bcast128(bits + l * 32), s0 = bcast128(bits + l * 32 + 16);
      const __m512i qs0 = _mm512_and_si512(q0, s0);
      const __m256 e1a = _mm256_set1_ps(e1[l]), d0a = _mm256_set1_ps(d0[l]), e3a = _mm256_set1_ps(e3[l]);
      for (int t = 0; t < T; ++t) {
        const __m512i b0 = _mm512_loadu_si512(pl[t] + l * 8);
        acc0[t] = _mm256_add_ps(acc0[t], weigh(chunk_pc(b0, q0, s0, qs0), e1a, d0a, e3a));
      }
    }
  } else {  // blocks of several chunks: integer counts per block, then one float step
    for (int l = 0; l < nb; ++l) {
      const int nck = (l == nb - 1) ? w.last_chunks : cpb;
      const int64_t c0 = int64_t(l) * cpb;
      const __m256 e1a = _mm256_set1_ps(e1[l]), d0a = _mm256_set1_ps(d0[l]), e3a = _mm256_set1_ps(e3[l]);
      for (int t = 0; t < T; ++t) {
        Pc3 sum{_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
        for (int ck = 0; ck < nck; ++ck) {
          const uint8_t* cb = bits + (c0 + ck) * 32;
          const __m512i q = bcast128(cb), s = bcast128(cb + 16);
          const Pc3 p = chunk_pc(_mm512_loadu_si512(pl[t] + (c0 + ck) * 8), q, s, _mm512_and_si512(q, s));
          sum.a1 = _mm512_add_epi64(sum.a1, p.a1);
          sum.qb = _mm512_add_epi64(sum.qb, p.qb);
          sum.n1 = _mm512_add_epi64(sum.n1, p.n1);
        }
        acc0[t] = _mm256_add_ps(acc0[t], weigh(sum, e1a, d0a, e3a));
      }
    }
  }
  for (int t = 0; t < T; ++t) {
    const float* m = x.m + (t0 + t) * 4;
    const __m256 mv = _mm256_setr_ps(m[0], m[0], m[1], m[1], m[2], m[2], m[3], m[3]);
    out[t] = hsum256(_mm256_mul_ps(_mm256_add_ps(acc0[t], acc1[t]), mv));
  }
}

void gemm_avx512(const BinaryLayerView& w, const ActsView& x, int r0, int r1, float* y,
                 float* scratch) {
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
          acc += wscale * x.outlier_scale[tt] *
                 float(dot_i8(ow, x.outlier_q + int64_t(tt) * x.k_pad, w.k_pad, h.outlier_wsum));
        y[int64_t(tt) * w.out + j] = acc;
      }
    }
  }
}

void counts_avx512(const BinaryLayerView& w, const ActsView& x, int r0, int r1, int32_t* counts,
                   int32_t* odot) {
  const int nb = w.n_blocks, cpb = w.chunks_per_block;
  for (int t = 0; t < x.n_tokens; ++t) {
    const uint64_t* pl = x.planes + int64_t(t) * x.n_chunks * 8;
    for (int j = r0; j < r1; ++j) {
      const uint8_t* row = w.rows + int64_t(j) * w.row_stride;
      const uint8_t* bits = row + w.bits_offset;
      for (int l = 0; l < nb; ++l) {
        const int nck = (l == nb - 1) ? w.last_chunks : cpb;
        __m512i a1 = _mm512_setzero_si512(), qb = a1, n1 = a1;
        for (int ck = 0; ck < nck; ++ck) {
          const int64_t c = int64_t(l) * cpb + ck;
          const __m512i q = bcast128(bits + c * 32), s = bcast128(bits + c * 32 + 16);
          const Pc3 p = chunk_pc(_mm512_loadu_si512(pl + c * 8), q, s, _mm512_and_si512(q, s));
          a1 = _mm512_add_epi64(a1, p.a1);
          qb = _mm512_add_epi64(qb, p.qb);
          n1 = _mm512_add_epi64(n1, p.n1);
        }
        alignas(64) int64_t va[8], vq[8], vn[8];
        _mm512_store_si512(va, a1);
        _mm512_store_si512(vq, qb);
        _mm512_store_si512(vn, n1);
        int32_t* c = counts + ((int64_t(t) * w.out + j) * nb + l) * 12;
        for (int a = 0; a < 4; ++a) {
          c[a * 3 + 0] = int32_t(va[2 * a] + va[2 * a + 1]);
          c[a * 3 + 1] = int32_t(vq[2 * a] + vq[2 * a + 1]);
          c[a * 3 + 2] = int32_t(vn[2 * a] + vn[2 * a + 1]);
        }
      }
      RowHeader h;
      std::memcpy(&h, row, sizeof h);
      odot[int64_t(t) * w.out + j] =
          dot_i8(reinterpret_cast<const int8_t*>(row + w.outlier_offset),
                 x.outlier_q + int64_t(t) * x.k_pad, w.k_pad, h.outlier_wsum);
    }
  }
}

// W8A8: R rows x T tokens register tile of VNNI accumulators.
template <int R, int T>
void int8_tile(const int8_t* wm, const int32_t* wsum, int rows, int ld, const int8_t* x, int j0,
               int t0, int32_t* out) {
  const __m512i off = _mm512_set1_epi8(char(0x80));
  __m512i acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_si512();
  for (int k = 0; k < ld; k += 64) {
    const __mmask64 m = ld - k >= 64 ? ~__mmask64(0) : __mmask64(0xFFFFFFFFull);
    __m512i wv[R];
    for (int r = 0; r < R; ++r) wv[r] = _mm512_maskz_loadu_epi8(m, wm + int64_t(j0 + r) * ld + k);
    for (int t = 0; t < T; ++t) {
      const __m512i xv = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, x + int64_t(t0 + t) * ld + k), off);
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], xv, wv[r]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t)
      out[int64_t(t0 + t) * rows + j0 + r] = _mm512_reduce_add_epi32(acc[r][t]) - 128 * wsum[j0 + r];
}

template <int R>
void int8_rows(const int8_t* wm, const int32_t* wsum, int rows, int ld, const int8_t* x, int n,
               int j0, int32_t* out) {
  int t0 = 0;
  for (; t0 + 4 <= n; t0 += 4) int8_tile<R, 4>(wm, wsum, rows, ld, x, j0, t0, out);
  for (; t0 < n; ++t0) int8_tile<R, 1>(wm, wsum, rows, ld, x, j0, t0, out);
}

void int8_dot_avx512(const int8_t* wm, const int32_t* wsum, int rows, int ld, const int8_t* x,
                     int n_tokens, int r0, int r1, int32_t* out) {
  int j = r0;
  for (; j + 4 <= r1; j += 4) int8_rows<4>(wm, wsum, rows, ld, x, n_tokens, j, out);
  for (; j < r1; ++j) int8_rows<1>(wm, wsum, rows, ld, x, n_tokens, j, out);
}

const KernelTable kTable{"avx512", counts_avx512, gemm_avx512, int8_dot_avx512};

}  // namespace

const KernelTable& detail::table_avx512() { return kTable; }

}  // namespace binq
