// AVX2 kernels: one row of a tile at a time, popcounts with the scalar POPCNT instruction on 64-bit
// words (AND/ANDN in GPRs, four ALU ports), the per-plane counts packed 16 bits apart into one
// 64-bit integer per count type and widened to 4 double lanes (one lane per plane) for the
// weighting; the INT8 outlier dots of a tile's 8 rows at once. The whole float step
// is in double (parameters exact, products and sums to ~1e-16, rounded to float once) so the
// result equals the scalar reference to a few float ulps (docs/format.md).
// No std:: templates or inline header functions here (see kernel_table.h).
#include <immintrin.h>

#include <cstring>

#include "binq/kernels/kernel_table.h"

namespace binq {
namespace {

constexpr int kTokTile = 4;

inline uint64_t pc(uint64_t v) { return uint64_t(_mm_popcnt_u64(v)); }
inline float fp16(uint16_t h) { return _cvtsh_ss(h); }

inline double hsum256d(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// FP16 params of a tile's 8 rows -> sc as exact doubles, [block][e1 = d1-d0, d0, e3 = lo1-lo0,
// lo0][8 lanes] (32 per block), converted 8 rows at a time. The differences of two FP16 values
// are exact in double.
void tile_params(const BinaryLayerView& w, const uint8_t* tile, double* sc) {
  for (int l = 0; l < w.n_blocks; ++l, sc += 32) {
    const __m128i* prm = reinterpret_cast<const __m128i*>(tile + tile_block_offset(l, w.block_stride));
    const __m256 lo0 = _mm256_cvtph_ps(_mm_load_si128(prm)), d0 = _mm256_cvtph_ps(_mm_load_si128(prm + 1));
    const __m256 lo1 = _mm256_cvtph_ps(_mm_load_si128(prm + 2)), d1 = _mm256_cvtph_ps(_mm_load_si128(prm + 3));
    for (int h = 0; h < 2; ++h) {
      auto half = [h](__m256 v) { return _mm256_cvtps_pd(h ? _mm256_extractf128_ps(v, 1) : _mm256_castps256_ps128(v)); };
      _mm256_store_pd(sc + 4 * h, _mm256_sub_pd(half(d1), half(d0)));
      _mm256_store_pd(sc + 8 + 4 * h, half(d0));
      _mm256_store_pd(sc + 16 + 4 * h, _mm256_sub_pd(half(lo1), half(lo0)));
      _mm256_store_pd(sc + 24 + 4 * h, half(lo0));
    }
  }
}

// lo[lane] = sum_l lo0[l][lane] * lo_term[l] for the 8 rows of a tile (sc from tile_params).
inline void tile_lo_part(const double* sc, const double* lo_term, int nb, double* lo) {
  __m256d a0 = _mm256_setzero_pd(), a1 = a0;
  for (int l = 0; l < nb; ++l) {
    const __m256d t = _mm256_set1_pd(lo_term[l]);
    a0 = _mm256_fmadd_pd(_mm256_load_pd(sc + l * 32 + 24), t, a0);
    a1 = _mm256_fmadd_pd(_mm256_load_pd(sc + l * 32 + 28), t, a1);
  }
  _mm256_storeu_pd(lo, a0);
  _mm256_storeu_pd(lo + 4, a1);
}

// INT8 outlier dots of a tile's 8 rows (lane = row) with one token: per 4 k, the 8 rows' weights
// are one 256-bit vector and the token's 4 values are broadcast (s8 x s8 via VPMADDUBSW with the
// sign trick: |w| as u8, sign(w)*x as s8; no saturation since |x| <= 127, |w| <= 128).
inline __m256i tile_outlier_dots(const int8_t* ow, const int8_t* xq, int k_pad) {
  __m256i acc = _mm256_setzero_si256();
  for (int k = 0; k < k_pad; k += 4) {
    int32_t xv;
    std::memcpy(&xv, xq + k, 4);
    const __m256i wv = _mm256_load_si256(reinterpret_cast<const __m256i*>(ow + tile_outlier_index(k, 0)));
    const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(wv), _mm256_sign_epi8(_mm256_set1_epi32(xv), wv));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
  }
  return acc;
}

// Counts of one (row, block, token) packed per type: plane a in bits [16a, 16a+16).
struct Packed3 {
  uint64_t a1, qb, n1;
};
inline Packed3 block_counts(const uint64_t* blk, int lane, const uint64_t* b, int c0, int nck) {
  Packed3 r{0, 0, 0};
  for (int ck = 0; ck < nck; ++ck) {
    const int c = c0 + ck;
    const uint64_t q[2] = {blk[tile_bit_index(ck, 0, 0, lane)], blk[tile_bit_index(ck, 0, 1, lane)]};
    const uint64_t s[2] = {blk[tile_bit_index(ck, 1, 0, lane)], blk[tile_bit_index(ck, 1, 1, lane)]};
    const uint64_t qs0 = q[0] & s[0], qs1 = q[1] & s[1];
    for (int a = 0; a < 4; ++a) {
      const uint64_t b0 = b[plane_word_index(c, a, 0)], b1 = b[plane_word_index(c, a, 1)];
      const int sh = 16 * a;
      r.a1 += (pc(b0 & qs0) + pc(b1 & qs1)) << sh;
      r.qb += (pc(b0 & q[0]) + pc(b1 & q[1])) << sh;
      r.n1 += (pc(b0 & s[0]) + pc(b1 & s[1])) << sh;
    }
  }
  return r;
}

inline const uint64_t* block_bits(const BinaryLayerView& w, const uint8_t* tile, int l) {
  return reinterpret_cast<const uint64_t*>(tile + tile_block_offset(l, w.block_stride));
}

// Packed per-plane counts (16 bits each) -> 4 double lanes, exact.
inline __m256d lanes(uint64_t packed) {
  return _mm256_cvtepi32_pd(_mm_cvtepu16_epi32(_mm_cvtsi64_si128(int64_t(packed))));
}

// Binary part (without the lo0 * lo_term term) of the row in `lane` x tokens [t0, t0+T), in double.
template <int T>
void binary_rows_tokens(const BinaryLayerView& w, const ActsView& x, const uint8_t* tile, int lane,
                        const double* sc, int t0, double* out) {
  const int nb = w.n_blocks, cpb = w.chunks_per_block;
  __m256d acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_pd();
  for (int l = 0; l < nb; ++l) {
    const int nck = (l == nb - 1) ? w.last_chunks : cpb;
    const double* p = sc + l * 32 + lane;
    const __m256d e1 = _mm256_set1_pd(p[0]), d0 = _mm256_set1_pd(p[8]), e3 = _mm256_set1_pd(p[16]);
    for (int t = 0; t < T; ++t) {
      const Packed3 p = block_counts(block_bits(w, tile, l), lane,
                                     x.planes + int64_t(t0 + t) * x.n_chunks * 8, l * cpb, nck);
      __m256d f = _mm256_mul_pd(lanes(p.a1), e1);
      f = _mm256_fmadd_pd(lanes(p.qb), d0, f);
      acc[t] = _mm256_add_pd(acc[t], _mm256_fmadd_pd(lanes(p.n1), e3, f));
    }
  }
  for (int t = 0; t < T; ++t)
    out[t] = hsum256d(_mm256_mul_pd(acc[t], _mm256_cvtps_pd(_mm_loadu_ps(x.m + (t0 + t) * 4))));
}

// scratch (binary_gemm_scratch_bytes: tile_params of one tile), 64-byte aligned.
void gemm_avx2(const BinaryLayerView& w, const ActsView& x, int r0, int r1, float* y, float* scratch) {
  const int nb = w.n_blocks, n = x.n_tokens;
  double* sd = reinterpret_cast<double*>(scratch);
  for (int tile = r0 / kTileRows; tile * kTileRows < r1; ++tile) {
    const uint8_t* tp = w.tiles + int64_t(tile) * w.tile_stride;
    TileHeader h;
    std::memcpy(&h, tp, sizeof h);
    const int rows = tile_rows(w, tile);
    tile_params(w, tp, sd);
    for (int t0 = 0; t0 < n; t0 += kTokTile) {
      const int T = n - t0 < kTokTile ? n - t0 : kTokTile;
      alignas(32) int32_t od[kTokTile][kTileRows] = {};
      double lo[kTokTile][kTileRows];
      for (int t = 0; t < T; ++t) {
        tile_lo_part(sd, x.lo_term + int64_t(t0 + t) * nb, nb, lo[t]);
        if (w.K > 0)
          _mm256_store_si256(reinterpret_cast<__m256i*>(od[t]),
                             tile_outlier_dots(reinterpret_cast<const int8_t*>(tp + w.outlier_offset),
                                               x.outlier_q + int64_t(t0 + t) * x.k_pad, w.k_pad));
      }
      for (int lane = 0; lane < rows; ++lane) {
        // The rows of a tile are processed one after another, so the first row alone would walk
        // the whole tile through DRAM misses: fetch an eighth of the next tile per row instead
        // (4096x4096 GEMV, weights in DRAM, 1 thread: 2.15 -> 1.6 ms; 1.73 ms in the old layout).
        if (t0 == 0 && tile * kTileRows + kTileRows < r1)
          for (int64_t o = lane * w.tile_stride / kTileRows; o < (lane + 1) * w.tile_stride / kTileRows; o += 64)
            _mm_prefetch(reinterpret_cast<const char*>(tp + w.tile_stride + o), _MM_HINT_T0);
        double res[kTokTile] = {0, 0, 0, 0};
        if (nb > 0) {
          switch (T) {
            case 4: binary_rows_tokens<4>(w, x, tp, lane, sd, t0, res); break;
            case 3: binary_rows_tokens<3>(w, x, tp, lane, sd, t0, res); break;
            case 2: binary_rows_tokens<2>(w, x, tp, lane, sd, t0, res); break;
            default: binary_rows_tokens<1>(w, x, tp, lane, sd, t0, res); break;
          }
        }
        const double wscale = fp16(h.outlier_scale[lane]);
        for (int t = 0; t < T; ++t) {
          const int tt = t0 + t;
          const double acc = res[t] + lo[t][lane] + double(x.mc[tt]) * h.rowsum[lane];
          const double o = w.K > 0 ? wscale * double(x.outlier_scale[tt]) * double(od[t][lane]) : 0.0;
          y[int64_t(tt) * w.out + tile * kTileRows + lane] = float(acc + o);
        }
      }
    }
  }
}

void counts_avx2(const BinaryLayerView& w, const ActsView& x, int r0, int r1, int32_t* counts,
                 int32_t* odot) {
  const int nb = w.n_blocks, cpb = w.chunks_per_block;
  for (int t = 0; t < x.n_tokens; ++t) {
    const uint64_t* pl = x.planes + int64_t(t) * x.n_chunks * 8;
    for (int tile = r0 / kTileRows; tile * kTileRows < r1; ++tile) {
      const uint8_t* tp = w.tiles + int64_t(tile) * w.tile_stride;
      alignas(32) int32_t od[kTileRows];
      _mm256_store_si256(reinterpret_cast<__m256i*>(od),
                         tile_outlier_dots(reinterpret_cast<const int8_t*>(tp + w.outlier_offset),
                                           x.outlier_q + int64_t(t) * x.k_pad, w.k_pad));
      for (int lane = 0; lane < tile_rows(w, tile); ++lane) {
        const int j = tile * kTileRows + lane;
        for (int l = 0; l < nb; ++l) {
          const Packed3 p = block_counts(block_bits(w, tp, l), lane, pl, l * cpb, l == nb - 1 ? w.last_chunks : cpb);
          int32_t* c = counts + ((int64_t(t) * w.out + j) * nb + l) * 12;
          for (int a = 0; a < 4; ++a) {
            c[a * 3 + 0] = int32_t((p.a1 >> (16 * a)) & 0xFFFF);
            c[a * 3 + 1] = int32_t((p.qb >> (16 * a)) & 0xFFFF);
            c[a * 3 + 2] = int32_t((p.n1 >> (16 * a)) & 0xFFFF);
          }
        }
        odot[int64_t(t) * w.out + j] = od[lane];
      }
    }
  }
}

// W8A8 baseline: 32 bytes of w . x (s8 x s8) accumulated into int32 lanes (sign trick as above).
inline __m256i madd_i8(__m256i acc, __m256i wv, __m256i xv) {
  const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(wv), _mm256_sign_epi8(xv, wv));
  return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
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

const KernelTable kTable{"avx2", counts_avx2, gemm_avx2, int8_dot_avx2,
                       detail::kv_scores_avx2, detail::kv_wsum_avx2};

}  // namespace

const KernelTable& detail::table_avx2() { return kTable; }

}  // namespace binq
