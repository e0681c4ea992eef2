// AVX-512 kernels (F/BW/VL/DQ + VPOPCNTDQ + VNNI + IFMA) over the chunk-group layout
// (docs/format.md): one zmm holds the same u64 word of 8 consecutive 128-bit chunks (8 blocks at
// B = 128) of one weight bit kind or one activation plane. Per group, token and plane a:
//   c11 = pc(b & q & s), c10 = pc(b & q & ~s), cs = pc(b & s)     (VPTERNLOGQ/VPANDQ + VPOPCNTQ,
//   the chunk's two words added in integers), then acc_a += c11*d1 + c10*d0 + cs*(lo1-lo0)
// with VPMADD52LUQ, the FP16 parameters being exact integers in units of 2^-24.
// Why integers: the kernel is bound by its count of vector instructions (about 1.6 zmm
// instructions per cycle on Zen 4 for this mix): 9 per (block, token) here, against about 17 for
// the former double formulation, which needed word-merging shuffles and int->double conversions
// per block (docs/format.md "Integer accumulation"). Integer sums are exact in any order, so the
// result does not depend on the summation order of any ISA.
// VPMADD52LUQ adds the low 52 bits of each product: products of negative parameters wrap mod
// 2^52 and lane sums wrap mod 2^64, and a plane's total is read back from its low 52 bits as a
// signed number -- exact while |total| < 2^51, which pack() checks with margin
// (PackedBinaryLinear::int_accumulation_ok; the front end runs AVX2 otherwise).
// The rest is in double and rounded to float once: sum_a m_a S_a 2^-24 + lo0 . lo_term (the front
// end's sum_a m_a pc(b_a) per block) + m_c rowsum + s_w s_x * exact INT8 outlier dot (VPDPBUSD
// with the activations offset to u8 and the row's weight sum subtracted).
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

// Mask of the first min(n, 8) lanes.
inline __mmask8 first_lanes(int n) { return n >= 8 ? __mmask8(0xFF) : __mmask8((1u << n) - 1); }

constexpr float kUnit = 16777216.0f;  // 2^24: every FP16 value is an integer multiple of 2^-24

// Parameters of one chunk group: d1, d0, e3 = lo1 - lo0 as int64 lanes in units of 2^-24 (zero
// past the last chunk).
struct GroupParams {
  __m512i d1, d0, e3;
};
inline __m512i fixed(__m256 f) { return _mm512_cvtps_epi64(_mm256_mul_ps(f, _mm256_set1_ps(kUnit))); }

// One chunk per block (B <= 128): lanes are blocks 8g..8g+7, converted straight from the row's FP16
// arrays; lo0 of those blocks (as doubles) is returned for the lo0 * lo_term part.
inline GroupParams block_params(const uint16_t* prm, int nb, int g, __m512d& lo0) {
  const int l = 8 * g;
  const __mmask8 m = first_lanes(nb - l);
  auto ld = [&](int k) { return _mm256_cvtph_ps(_mm_maskz_loadu_epi16(m, prm + k * nb + l)); };
  const __m256 lo0f = ld(0);
  lo0 = _mm512_cvtps_pd(lo0f);
  return {fixed(ld(3)), fixed(ld(1)), _mm512_sub_epi64(fixed(ld(2)), fixed(lo0f))};
}

// Several chunks per block: the row's parameters expanded to one lane per chunk in scratch
// (d1, d0, e3: 8 * n_groups int64 each), and lo0 per block as doubles (nb, read masked).
struct ExpandedParams {
  const int64_t *d1, *d0, *e3;
  const double* lo0;
};
ExpandedParams expand_params(const BinaryLayerView& w, const uint16_t* prm, int64_t* sc) {
  const int nb = w.n_blocks, nl = 8 * w.n_groups;
  int64_t *d1 = sc, *d0 = sc + nl, *e3 = sc + 2 * nl;
  double* lo0 = reinterpret_cast<double*>(sc + 3 * nl);
  for (int l = 0; l < nb; ++l) lo0[l] = double(_cvtsh_ss(prm[l]));
  for (int c = 0; c < nl; ++c) {
    const int l = c / w.chunks_per_block;
    auto fx = [&](int k) { return c < w.n_chunks ? int64_t(_cvtsh_ss(prm[k * nb + l]) * kUnit) : 0; };
    d1[c] = fx(3);
    d0[c] = fx(1);
    e3[c] = fx(2) - fx(0);
  }
  return {d1, d0, e3, lo0};
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

// Weight words of group g: q and s, words 0 and 1, one lane per chunk (a short last group is
// stored with fewer lanes: masked loads, zero lanes).
struct GroupBits {
  __m512i q0, q1, s0, s1;
};
inline GroupBits group_bits(const uint64_t* bits, int g, int n_chunks) {
  const int lanes = g < (n_chunks >> 3) ? 8 : (n_chunks & 7);
  const __mmask8 m = first_lanes(lanes);
  const uint64_t* p = bits + int64_t(g) * 32;
  return {_mm512_maskz_loadu_epi64(m, p), _mm512_maskz_loadu_epi64(m, p + lanes),
          _mm512_maskz_loadu_epi64(m, p + 2 * lanes), _mm512_maskz_loadu_epi64(m, p + 3 * lanes)};
}

// Per-plane totals (4 x int64) of four lane accumulators, each read from its low 52 bits as a
// signed number.
inline __m256i plane_totals(__m512i a0, __m512i a1, __m512i a2, __m512i a3) {
  const __m512i p01 = _mm512_add_epi64(_mm512_unpacklo_epi64(a0, a1), _mm512_unpackhi_epi64(a0, a1));
  const __m512i p23 = _mm512_add_epi64(_mm512_unpacklo_epi64(a2, a3), _mm512_unpackhi_epi64(a2, a3));
  const __m512i q = _mm512_add_epi64(_mm512_shuffle_i64x2(p01, p23, 0x88), _mm512_shuffle_i64x2(p01, p23, 0xDD));
  const __m512i r = _mm512_add_epi64(q, _mm512_shuffle_i64x2(q, q, 0xB1));
  const __m256i v = _mm512_castsi512_si256(_mm512_shuffle_i64x2(r, r, 0x08));
  return _mm256_srai_epi64(_mm256_slli_epi64(v, 12), 12);
}

// One row x tokens [t0, t0+T): plane totals S_a (4 x int64, units of 2^-24) and the lo0 . lo_term
// part (8 double lanes to be summed).
template <int T, bool kOneChunk>
void row_tokens(const BinaryLayerView& w, const ActsView& x, const uint8_t* row, int64_t* sc, int t0,
                __m256i* totals, __m512d* lo_part) {
  const int ng = w.n_groups, nb = w.n_blocks;
  const uint64_t* bits = reinterpret_cast<const uint64_t*>(row + w.bits_offset);
  const uint16_t* prm = reinterpret_cast<const uint16_t*>(row + w.params_offset);
  ExpandedParams ep{};
  if (!kOneChunk) ep = expand_params(w, prm, sc);
  const uint64_t* pl[T];
  const double* lt[T];
  __m512i acc[T][4];
  for (int t = 0; t < T; ++t) {
    pl[t] = x.planes + int64_t(t0 + t) * ng * 64;
    lt[t] = x.lo_term + int64_t(t0 + t) * nb;
    lo_part[t] = _mm512_setzero_pd();
    for (int a = 0; a < 4; ++a) acc[t][a] = _mm512_setzero_si512();
  }
  // Long rows (>= 8 groups, ~8k channels) prefetch the next row record, a slice per group: the
  // hardware prefetcher alone lost bandwidth on them (the params and bits regions are read as two
  // interleaved streams): 4096x11008 GEMV 1587 -> 900 us, while on 4096-wide rows the explicit
  // prefetch cost 10-20% (kernels_bench, Bitwise_avx512/llama7b/*/n:1).
  const char* next = reinterpret_cast<const char*>(row) + w.row_stride;
  const int64_t slice = ng >= 8 ? (w.row_stride / ng + 63) / 64 * 64 : 0;
  for (int g = 0; g < ng; ++g) {
    for (int64_t off = g * slice; off < (g + 1) * slice && off < w.row_stride; off += 64)
      _mm_prefetch(next + off, _MM_HINT_T0);
    const GroupBits wb = group_bits(bits, g, w.n_chunks);
    GroupParams gp;
    if (kOneChunk) {
      __m512d lo0;
      gp = block_params(prm, nb, g, lo0);
      const __mmask8 m = first_lanes(nb - 8 * g);
      for (int t = 0; t < T; ++t)
        lo_part[t] = _mm512_fmadd_pd(lo0, _mm512_maskz_loadu_pd(m, lt[t] + 8 * g), lo_part[t]);
    } else {
      gp = {_mm512_load_si512(ep.d1 + 8 * g), _mm512_load_si512(ep.d0 + 8 * g), _mm512_load_si512(ep.e3 + 8 * g)};
    }
    for (int t = 0; t < T; ++t) {
      const uint64_t* p = pl[t] + int64_t(g) * 64;
      for (int a = 0; a < 4; ++a) {
        const __m512i b0 = _mm512_loadu_si512(p + a * 16), b1 = _mm512_loadu_si512(p + a * 16 + 8);
        // imm 0x80: b & q & s; 0x40: b & q & ~s (operands b, q, s).
        const __m512i c11 = _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_ternarylogic_epi64(b0, wb.q0, wb.s0, 0x80)),
                                             _mm512_popcnt_epi64(_mm512_ternarylogic_epi64(b1, wb.q1, wb.s1, 0x80)));
        const __m512i c10 = _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_ternarylogic_epi64(b0, wb.q0, wb.s0, 0x40)),
                                             _mm512_popcnt_epi64(_mm512_ternarylogic_epi64(b1, wb.q1, wb.s1, 0x40)));
        const __m512i cs = _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_and_si512(b0, wb.s0)),
                                            _mm512_popcnt_epi64(_mm512_and_si512(b1, wb.s1)));
        acc[t][a] = _mm512_madd52lo_epu64(acc[t][a], c11, gp.d1);
        acc[t][a] = _mm512_madd52lo_epu64(acc[t][a], c10, gp.d0);
        acc[t][a] = _mm512_madd52lo_epu64(acc[t][a], cs, gp.e3);
      }
    }
  }
  for (int t = 0; t < T; ++t) {
    totals[t] = plane_totals(acc[t][0], acc[t][1], acc[t][2], acc[t][3]);
    if (!kOneChunk)
      for (int l = 0; l < nb; l += 8) {
        const __mmask8 m = first_lanes(nb - l);
        lo_part[t] = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(m, ep.lo0 + l), _mm512_maskz_loadu_pd(m, lt[t] + l), lo_part[t]);
      }
  }
}

// y for one row and tokens [t0, t0+T): sum_a m_a S_a 2^-24 + lo part + m_c rowsum + outliers, in
// double, rounded to float once.
template <int T, bool kOneChunk>
void tile(const BinaryLayerView& w, const ActsView& x, const uint8_t* row, int64_t* sc, int j, int t0,
          float* y) {
  __m256i totals[T];
  __m512d lo_part[T];
  if (w.n_groups > 0) {
    row_tokens<T, kOneChunk>(w, x, row, sc, t0, totals, lo_part);
  } else {
    for (int t = 0; t < T; ++t) {
      totals[t] = _mm256_setzero_si256();
      lo_part[t] = _mm512_setzero_pd();
    }
  }
  RowHeader h;
  std::memcpy(&h, row, sizeof h);
  const double wscale = double(_cvtsh_ss(h.outlier_scale));
  const int8_t* ow = reinterpret_cast<const int8_t*>(row + w.outlier_offset);
  const __m256d unit = _mm256_set1_pd(1.0 / double(kUnit));
  for (int t = 0; t < T; ++t) {
    const int tt = t0 + t;
    // m_a 2^-24 is exact, so each S_a term is rounded once.
    const __m256d ma = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(x.m + tt * 4)), unit);
    const __m256d sa = _mm256_mul_pd(_mm256_cvtepi64_pd(totals[t]), ma);
    double r = _mm512_reduce_add_pd(_mm512_add_pd(lo_part[t], _mm512_zextpd256_pd512(sa))) +
               double(x.mc[tt]) * h.rowsum;
    if (w.K > 0)
      r += wscale * double(x.outlier_scale[tt]) *
           double(dot_i8(ow, x.outlier_q + int64_t(tt) * x.k_pad, w.k_pad, h.outlier_wsum));
    y[int64_t(tt) * w.out + j] = float(r);
  }
}

template <bool kOneChunk>
void gemm_rows(const BinaryLayerView& w, const ActsView& x, int r0, int r1, float* y, int64_t* sc) {
  const int n = x.n_tokens;
  for (int j = r0; j < r1; ++j) {
    const uint8_t* row = w.rows + int64_t(j) * w.row_stride;
    int t0 = 0;
    for (; t0 + kTokTile <= n; t0 += kTokTile) tile<kTokTile, kOneChunk>(w, x, row, sc, j, t0, y);
    for (; t0 < n; ++t0) tile<1, kOneChunk>(w, x, row, sc, j, t0, y);
  }
}

void gemm_avx512(const BinaryLayerView& w, const ActsView& x, int r0, int r1, float* y,
                 float* scratch) {
  int64_t* sc = reinterpret_cast<int64_t*>(scratch);
  if (w.chunks_per_block == 1) gemm_rows<true>(w, x, r0, r1, y, sc);
  else gemm_rows<false>(w, x, r0, r1, y, sc);
}

void counts_avx512(const BinaryLayerView& w, const ActsView& x, int r0, int r1, int32_t* counts,
                   int32_t* odot) {
  const int nb = w.n_blocks, cpb = w.chunks_per_block, ng = w.n_groups;
  for (int t = 0; t < x.n_tokens; ++t) {
    const uint64_t* pl = x.planes + int64_t(t) * ng * 64;
    for (int j = r0; j < r1; ++j) {
      const uint8_t* row = w.rows + int64_t(j) * w.row_stride;
      const uint64_t* bits = reinterpret_cast<const uint64_t*>(row + w.bits_offset);
      int32_t* c = counts + (int64_t(t) * w.out + j) * nb * 12;
      for (int k = 0; k < nb * 12; ++k) c[k] = 0;
      for (int g = 0; g < ng; ++g) {
        const GroupBits wb = group_bits(bits, g, w.n_chunks);
        for (int a = 0; a < 4; ++a) {
          const __m512i b0 = _mm512_loadu_si512(pl + g * 64 + a * 16), b1 = _mm512_loadu_si512(pl + g * 64 + a * 16 + 8);
          alignas(64) int64_t v[3][8];
          _mm512_store_si512(v[0], _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_ternarylogic_epi64(b0, wb.q0, wb.s0, 0x80)),
                                                    _mm512_popcnt_epi64(_mm512_ternarylogic_epi64(b1, wb.q1, wb.s1, 0x80))));
          _mm512_store_si512(v[1], _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_and_si512(b0, wb.q0)),
                                                    _mm512_popcnt_epi64(_mm512_and_si512(b1, wb.q1))));
          _mm512_store_si512(v[2], _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_and_si512(b0, wb.s0)),
                                                    _mm512_popcnt_epi64(_mm512_and_si512(b1, wb.s1))));
          for (int lane = 0; lane < 8 && 8 * g + lane < w.n_chunks; ++lane) {
            const int l = (8 * g + lane) / cpb;
            for (int k = 0; k < 3; ++k) c[l * 12 + a * 3 + k] += int32_t(v[k][lane]);
          }
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

const KernelTable kTable{"avx512", counts_avx512, gemm_avx512, int8_dot_avx512,
                       detail::kv_scores_avx512, detail::kv_wsum_avx512};

}  // namespace

const KernelTable& detail::table_avx512() { return kTable; }

}  // namespace binq
