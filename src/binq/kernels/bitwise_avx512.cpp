// AVX-512 kernels (F/BW/VL/DQ + VPOPCNTDQ + VNNI). One 128-bit chunk of a block against the four
// activation planes of a token is one zmm: lanes (plane a, word w) = 4 x 2 qwords. Sign and bitmap
// of the chunk are broadcast to all four 128-bit lanes, three VPOPCNTQ give pc(q&s&b), pc(q&b),
// pc(s&b) per lane. Float step, in DOUBLE (the result must equal the scalar reference to a few
// float ulps, see docs/format.md): blocks go in pairs; the two words of each plane are summed in
// integers while two count vectors are merged into one 8-qword vector (VPBLENDMQ + VSHUFPD +
// VPADDQ), so every converted lane is useful: per pair 3 VCVTQQ2PD + 3 VFMADD..PD with the
// parameters as exact doubles (128-bit pair broadcasts). The per-lane sums are weighted by m_a
// once per (row, token); the lo0 * pop(b) term is a double dot with the front end's lo_term;
// m_c * rowsum and the outlier term are added in double and the sum is rounded to float once.
// Outliers: VPDPBUSD with the activations offset to u8 (x + 128) and the row's weight sum
// subtracted (exact integer reduction).
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


// FP16 params of one row -> scratch as exact doubles, laid out for the paired-block merge below:
//   ec[2*nbp]  (d1-d0, lo1-lo0) interleaved per block: one 128-bit broadcast gives a block's pair
//   dd[nbp]    d0, zero padded to an even count: (d0_l, d0_l+1) is one 128-bit broadcast
//   lo0[nb]
// with nbp = nb rounded up to even: 4*nb + 3 doubles (the front end gives 4*nb + 32).
// d1-d0 and lo1-lo0 of two FP16 values are exact in double.
struct RowScratch {
  const double *ec, *dd, *lo0;
};
RowScratch row_params(const BinaryLayerView& w, const uint8_t* row, double* sc) {
  const int nb = w.n_blocks, nbp = (nb + 1) & ~1;
  double* ec = sc;
  double* dd = sc + 2 * nbp;
  double* lo0s = dd + nbp;
  const uint16_t* prm = reinterpret_cast<const uint16_t*>(row + w.params_offset);
  const __m512i ilo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
  const __m512i ihi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
  for (int l = 0; l < nb; l += 8) {
    const int n = nb - l >= 8 ? 8 : nb - l;
    const __mmask8 m = __mmask8((1u << n) - 1);
    auto ld = [&](int k) {
      return _mm512_cvtps_pd(_mm256_cvtph_ps(_mm_maskz_loadu_epi16(m, prm + k * nb + l)));
    };
    const __m512d lo0 = ld(0), d0 = ld(1), lo1 = ld(2), d1 = ld(3);
    const __m512d e1 = _mm512_sub_pd(d1, d0), e3 = _mm512_sub_pd(lo1, lo0);
    _mm512_mask_storeu_pd(dd + l, m, d0);
    _mm512_mask_storeu_pd(lo0s + l, m, lo0);
    const int n2 = 2 * n;
    _mm512_mask_storeu_pd(ec + 2 * l, __mmask8(n2 >= 8 ? 0xFF : (1u << n2) - 1),
                          _mm512_permutex2var_pd(e1, ilo, e3));
    if (n2 > 8)
      _mm512_mask_storeu_pd(ec + 2 * l + 8, __mmask8((1u << (n2 - 8)) - 1),
                            _mm512_permutex2var_pd(e1, ihi, e3));
  }
  if (nb & 1) dd[nb] = 0.0;
  return {ec, dd, lo0s};
}

// 128-bit broadcast of a double pair: lanes alternate p[0], p[1].
inline __m512d pair(const double* p) { return _mm512_broadcast_f64x2(_mm_loadu_pd(p)); }

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

// Two qword count vectors a, b (lanes (plane p, word w)) -> 8 doubles: lane 2p = a_p0 + a_p1,
// lane 2p+1 = b_p0 + b_p1 (words summed in integers, exact). Lane k holds plane k/2.
inline __m512d merge_cvt(__m512i a, __m512i b) {
  // (a_w0, b_w1) + (a_w1, b_w0): one 64-bit blend (any vector pipe) and one VSHUFPD.
  const __m512i x = _mm512_mask_blend_epi64(0xAA, a, b);
  const __m512i y = _mm512_castpd_si512(_mm512_shuffle_pd(_mm512_castsi512_pd(a), _mm512_castsi512_pd(b), 0x55));
  return _mm512_cvtepi64_pd(_mm512_add_epi64(x, y));
}

// Weight chunks of one block (cpb == 1: one chunk; else the block's counts are summed in
// integers over its chunks before the float step).
struct WBlock {
  __m512i q, s, qs;
};
inline WBlock wblock(const uint8_t* cb) {
  const __m512i q = bcast128(cb), s = bcast128(cb + 16);
  return {q, s, _mm512_and_si512(q, s)};
}
template <bool kOneChunk>
inline Pc3 block_pc(const BinaryLayerView& w, const uint8_t* bits, const uint64_t* pl, int l,
                    const WBlock& wb) {
  if (kOneChunk) return chunk_pc(_mm512_loadu_si512(pl + int64_t(l) * 8), wb.q, wb.s, wb.qs);
  const int nck = (l == w.n_blocks - 1) ? w.last_chunks : w.chunks_per_block;
  const int64_t c0 = int64_t(l) * w.chunks_per_block;
  Pc3 sum{_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
  for (int ck = 0; ck < nck; ++ck) {
    const WBlock b = wblock(bits + (c0 + ck) * 32);
    const Pc3 p = chunk_pc(_mm512_loadu_si512(pl + (c0 + ck) * 8), b.q, b.s, b.qs);
    sum.a1 = _mm512_add_epi64(sum.a1, p.a1);
    sum.qb = _mm512_add_epi64(sum.qb, p.qb);
    sum.n1 = _mm512_add_epi64(sum.n1, p.n1);
  }
  return sum;
}

// Binary part (without the lo0 * lo_term term) of one row x tokens [t0, t0+T): 8-lane double
// accumulators (lane k <-> plane k/2), weighted by m_a at the end by the caller.
// Blocks go in pairs (l, l+1): merge(a1_l, n1_l) x (e1_l, e3_l), merge(qb_l, qb_l+1) x
// (d0_l, d0_l+1), merge(a1_l+1, n1_l+1) x (e1_l+1, e3_l+1): 3 conversions + 3 FMAs per pair.
template <int T, bool kOneChunk>
void binary_row_tokens(const BinaryLayerView& w, const ActsView& x, const uint8_t* row,
                       const RowScratch& sc, int t0, __m512d* acc) {
  const int nb = w.n_blocks;
  const uint8_t* bits = row + w.bits_offset;
  const uint64_t* pl[T];
  // Three chains (FMA latency would otherwise bound T == 1), all local so they stay in registers.
  __m512d acc1[T], acc2[T], acc3[T];
  for (int t = 0; t < T; ++t) {
    pl[t] = x.planes + int64_t(t0 + t) * x.n_chunks * 8;
    acc1[t] = _mm512_setzero_pd();
    acc2[t] = _mm512_setzero_pd();
    acc3[t] = _mm512_setzero_pd();
  }
  int l = 0;
  for (; l + 2 <= nb; l += 2) {
    WBlock w0{}, w1{};
    if (kOneChunk) {
      w0 = wblock(bits + l * 32);
      w1 = wblock(bits + l * 32 + 32);
    }
    const __m512d pe0 = pair(sc.ec + 2 * l), pd = pair(sc.dd + l), pe1 = pair(sc.ec + 2 * l + 2);
    for (int t = 0; t < T; ++t) {
      const Pc3 p0 = block_pc<kOneChunk>(w, bits, pl[t], l, w0);
      const Pc3 p1 = block_pc<kOneChunk>(w, bits, pl[t], l + 1, w1);
      acc1[t] = _mm512_fmadd_pd(merge_cvt(p0.a1, p0.n1), pe0, acc1[t]);
      acc2[t] = _mm512_fmadd_pd(merge_cvt(p0.qb, p1.qb), pd, acc2[t]);
      acc3[t] = _mm512_fmadd_pd(merge_cvt(p1.a1, p1.n1), pe1, acc3[t]);
    }
  }
  if (l < nb) {  // odd block count: the last block alone (dd[nb] == 0 pairs qb with nothing)
    WBlock w0{};
    if (kOneChunk) w0 = wblock(bits + l * 32);
    const __m512d pe0 = pair(sc.ec + 2 * l), pd = pair(sc.dd + l);
    const __m512i zero = _mm512_setzero_si512();
    for (int t = 0; t < T; ++t) {
      const Pc3 p0 = block_pc<kOneChunk>(w, bits, pl[t], l, w0);
      acc1[t] = _mm512_fmadd_pd(merge_cvt(p0.a1, p0.n1), pe0, acc1[t]);
      acc2[t] = _mm512_fmadd_pd(merge_cvt(p0.qb, zero), pd, acc2[t]);
    }
  }
  for (int t = 0; t < T; ++t) acc[t] = _mm512_add_pd(_mm512_add_pd(acc1[t], acc2[t]), acc3[t]);
}

// Finishes y for one row and tokens [t0, t0+T), all in double: acc * m_lanes + lo0 . lo_term
// reduced once, + m_c rowsum + s_w s_x * exact INT8 outlier dot; rounded to float once.
template <int T>
void finish_tokens(const BinaryLayerView& w, const ActsView& x, const uint8_t* row,
                   const RowScratch& sc, int j, int t0, const __m512d* acc, float* y) {
  const int nb = w.n_blocks;
  RowHeader h;
  std::memcpy(&h, row, sizeof h);
  const double wscale = double(_cvtsh_ss(h.outlier_scale));
  const int8_t* ow = reinterpret_cast<const int8_t*>(row + w.outlier_offset);
  const __m256i midx = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
  for (int t = 0; t < T; ++t) {
    const int tt = t0 + t;
    const __m256 mv = _mm256_castps128_ps256(_mm_loadu_ps(x.m + tt * 4));
    const __m512d mlanes = _mm512_cvtps_pd(_mm256_permutevar8x32_ps(mv, midx));
    __m512d tot = _mm512_mul_pd(acc[t], mlanes);
    const double* lt = x.lo_term + int64_t(tt) * nb;
    for (int l = 0; l < nb; l += 8) {
      const __mmask8 mk = nb - l >= 8 ? __mmask8(0xFF) : __mmask8((1u << (nb - l)) - 1);
      tot = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mk, sc.lo0 + l), _mm512_maskz_loadu_pd(mk, lt + l), tot);
    }
    double r = _mm512_reduce_add_pd(tot) + double(x.mc[tt]) * h.rowsum;
    if (w.K > 0)
      r += wscale * double(x.outlier_scale[tt]) *
           double(dot_i8(ow, x.outlier_q + int64_t(tt) * x.k_pad, w.k_pad, h.outlier_wsum));
    y[int64_t(tt) * w.out + j] = float(r);
  }
}

template <bool kOneChunk>
void gemm_rows(const BinaryLayerView& w, const ActsView& x, int r0, int r1, float* y,
               double* scratch) {
  const int n = x.n_tokens;
  for (int j = r0; j < r1; ++j) {
    const uint8_t* row = w.rows + int64_t(j) * w.row_stride;
    const RowScratch sc = row_params(w, row, scratch);
    __m512d acc[kTokTile];
    int t0 = 0;
    for (; t0 + kTokTile <= n; t0 += kTokTile) {
      binary_row_tokens<kTokTile, kOneChunk>(w, x, row, sc, t0, acc);
      finish_tokens<kTokTile>(w, x, row, sc, j, t0, acc, y);
    }
    for (; t0 < n; ++t0) {
      binary_row_tokens<1, kOneChunk>(w, x, row, sc, t0, acc);
      finish_tokens<1>(w, x, row, sc, j, t0, acc, y);
    }
  }
}

// scratch: 8*nb + 64 floats from the front end, 64-byte aligned raw memory, used as doubles.
void gemm_avx512(const BinaryLayerView& w, const ActsView& x, int r0, int r1, float* y,
                 float* scratch) {
  double* sd = reinterpret_cast<double*>(scratch);
  if (w.n_blocks == 0 || w.chunks_per_block != 1)
    gemm_rows<false>(w, x, r0, r1, y, sd);
  else
    gemm_rows<true>(w, x, r0, r1, y, sd);
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

const KernelTable kTable{"avx512", counts_avx512, gemm_avx512, int8_dot_avx512,
                       detail::kv_scores_avx512, detail::kv_wsum_avx512};

}  // namespace

const KernelTable& detail::table_avx512() { return kTable; }

}  // namespace binq
