// AVX-512 kernels (F/BW/VL/DQ + VPOPCNTDQ + VNNI + IFMA) over the row-tile layout
// (docs/format.md): lane r of every vector is row r of a tile of 8 rows, so one zmm holds the same
// u64 word of 8 rows and the token's activation words are broadcast. Per 128-bit chunk, token and
// plane a:
//   c11 = pc(b & q & s), c10 = pc(b & q & ~s), cs = pc(b & s)     (VPANDQ + VPOPCNTQ, the
//   chunk's two words added in integers), then acc_a += c11*d1 + c10*d0 + cs*(lo1-lo0)
// with VPMADD52LUQ, the FP16 parameters being exact integers in units of 2^-24 (a block's 4 x 8
// parameters converted once per block).
// Why this shape: the kernel is bound by its count of vector instructions. On Zen 4 about two
// 512-bit instructions issue per cycle, at most one of them VPOPCNTQ, VPMADD52LUQ, a conversion
// or a lane shuffle (they share two ports; ANDs and adds use the others), so every instruction
// saved counts (bench/isa_mix_bench; docs/format.md "Zen 4"). With rows in lanes every
// accumulator lane is one row's total, so there is no horizontal reduction per row; the epilogue
// (planes, lo0 . lo_term, m_c rowsum, outliers) runs on 8 rows at once. Against one row per vector
// (the previous "chunk group" layout) the 4096x4096 GEMV went from about 330 to 260 us per call
// with the weights in cache.
// Integer sums are exact in any order, so the result does not depend on the ISA's summation order.
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

constexpr int kTokTile = 3;

constexpr float kUnit = 16777216.0f;  // 2^24: every FP16 value is an integer multiple of 2^-24

// Parameters of one block for the 8 rows of a tile: d1, d0, e3 = lo1 - lo0 as int64 lanes in
// units of 2^-24, and lo0 in the same units as doubles (exact).
struct BlockParams {
  __m512i d1, d0, e3;
  __m512d lo0;
};
// 8 FP16 values as int64 in units of 2^-24: FP16 -> float (exact), times 2^24 by adding 24 to the
// float's exponent field, -> int64. Zero becomes 2^-103 and converts to 0; FP16 has no smaller
// nonzero value than 2^-24, and non-finite parameters never reach this kernel (pack()).
// Why not VMULPS and one 512-bit VCVTPH2PS per block: on Zen 4 the multiplies and the lane
// extractions of the wide form compete with VPOPCNTQ/VPMADD52LUQ for the same two ports, while
// the integer add does not (bench/isa_mix_bench; what it saved: docs/format.md "Zen 4").
inline __m512i fp16x8_units(const uint8_t* p) {
  const __m256 f = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm512_cvtps_epi64(_mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(f), _mm256_set1_epi32(24 << 23))));
}
inline BlockParams block_params(const uint8_t* blk) {
  // [lo0 x 8][d0 x 8][lo1 x 8][d1 x 8] FP16
  const __m512i lo0 = fp16x8_units(blk), d0 = fp16x8_units(blk + 16), lo1 = fp16x8_units(blk + 32),
                d1 = fp16x8_units(blk + 48);
  return {d1, d0, _mm512_sub_epi64(lo1, lo0), _mm512_cvtepi64_pd(lo0)};
}

// Weight words of one chunk for the 8 rows of a tile as the three class masks of each of its two
// words: q & s, q & ~s (formed once per chunk, shared by the 4 planes) and s.
struct ChunkBits {
  __m512i qs0, qs1, qn0, qn1, s0, s1;
};
inline ChunkBits chunk_bits(const uint64_t* blk, int ck) {
  const __m512i q0 = _mm512_load_si512(blk + tile_bit_index(ck, 0, 0, 0)), q1 = _mm512_load_si512(blk + tile_bit_index(ck, 0, 1, 0));
  const __m512i s0 = _mm512_load_si512(blk + tile_bit_index(ck, 1, 0, 0)), s1 = _mm512_load_si512(blk + tile_bit_index(ck, 1, 1, 0));
  return {_mm512_and_si512(q0, s0), _mm512_and_si512(q1, s1), _mm512_andnot_si512(s0, q0), _mm512_andnot_si512(s1, q1), s0, s1};
}

// m & (the u64 at p, broadcast to every lane), the broadcast folded into the AND's memory operand.
// GCC keeps a broadcast used three times in a register (one more VPBROADCASTQ, which on Zen 4
// takes a vector port like the ANDs); spelled out, each plane word is three loads and three ANDs.
inline __m512i and_broadcast(__m512i m, const uint64_t* p) {
  __m512i r;
  asm("vpandq %2%{1to8%}, %1, %0" : "=v"(r) : "v"(m), "m"(*p));
  return r;
}

// Per-lane counts of one chunk and plane: b points at the plane's two words for this chunk.
struct PlaneCounts {
  __m512i c11, c10, cs;
};
inline PlaneCounts plane_counts(const ChunkBits& w, const uint64_t* b) {
  return {_mm512_add_epi64(_mm512_popcnt_epi64(and_broadcast(w.qs0, b)), _mm512_popcnt_epi64(and_broadcast(w.qs1, b + 1))),
          _mm512_add_epi64(_mm512_popcnt_epi64(and_broadcast(w.qn0, b)), _mm512_popcnt_epi64(and_broadcast(w.qn1, b + 1))),
          _mm512_add_epi64(_mm512_popcnt_epi64(and_broadcast(w.s0, b)), _mm512_popcnt_epi64(and_broadcast(w.s1, b + 1)))};
}

// INT8 outlier dots of the tile's 8 rows with one token (lane = row): per 4 k one 256-bit vector
// of weights (s8) and the token's 4 values broadcast and offset to u8: (x + 128) . w - 128 sum(w).
inline __m256i outlier_dots(const int8_t* ow, const int8_t* xq, int k_pad, __m256i wsum) {
  const __m256i off = _mm256_set1_epi8(char(0x80));
  __m256i acc = _mm256_setzero_si256();
  for (int k = 0; k < k_pad; k += 4) {
    int32_t xv;
    std::memcpy(&xv, xq + k, 4);
    acc = _mm256_dpbusd_epi32(acc, _mm256_xor_si256(_mm256_set1_epi32(xv), off),
                              _mm256_load_si256(reinterpret_cast<const __m256i*>(ow + tile_outlier_index(k, 0))));
  }
  return _mm256_sub_epi32(acc, _mm256_slli_epi32(wsum, 7));
}

// A plane accumulator's lanes as doubles: the low 52 bits as a signed number (see above).
inline __m512d plane_total(__m512i acc) { return _mm512_cvtepi64_pd(_mm512_srai_epi64(_mm512_slli_epi64(acc, 12), 12)); }

// The 8 rows of one tile x tokens [t0, t0+T).
// pf: a later tile to prefetch while this one is computed, pf_step bytes of it per block (or null).
template <int T>
void tile_tokens(const BinaryLayerView& w, const ActsView& x, const uint8_t* tile, int j0, int t0,
                 float* y, const uint8_t* pf, int64_t pf_step) {
  const int nb = w.n_blocks, cpb = w.chunks_per_block;
  const int64_t tok_words = int64_t(w.n_chunks) * 8;
  __m512i acc[T][4];
  __m512d lo[T];
  for (int t = 0; t < T; ++t) {
    lo[t] = _mm512_setzero_pd();
    for (int a = 0; a < 4; ++a) acc[t][a] = _mm512_setzero_si512();
  }
  for (int l = 0; l < nb; ++l) {
    const uint8_t* blk = tile + tile_block_offset(l, w.block_stride);
    if (pf)
      for (int64_t o = l * pf_step, end = o + pf_step < w.tile_stride ? o + pf_step : w.tile_stride; o < end; o += 64)
        _mm_prefetch(reinterpret_cast<const char*>(pf + o), _MM_HINT_T1);
    const BlockParams bp = block_params(blk);
    for (int t = 0; t < T; ++t)
      lo[t] = _mm512_fmadd_pd(bp.lo0, _mm512_set1_pd(x.lo_term[int64_t(t0 + t) * nb + l]), lo[t]);
    const int nck = l == nb - 1 ? w.last_chunks : cpb;
    for (int ck = 0; ck < nck; ++ck) {
      const ChunkBits wb = chunk_bits(reinterpret_cast<const uint64_t*>(blk), ck);
      const uint64_t* b = x.planes + int64_t(t0) * tok_words + plane_word_index(l * cpb + ck, 0, 0);
      for (int t = 0; t < T; ++t, b += tok_words)
        for (int a = 0; a < 4; ++a) {
          const PlaneCounts c = plane_counts(wb, b + 2 * a);
          acc[t][a] = _mm512_madd52lo_epu64(acc[t][a], c.c11, bp.d1);
          acc[t][a] = _mm512_madd52lo_epu64(acc[t][a], c.c10, bp.d0);
          acc[t][a] = _mm512_madd52lo_epu64(acc[t][a], c.cs, bp.e3);
        }
    }
  }
  const TileHeader* h = reinterpret_cast<const TileHeader*>(tile);
  const __m512d rowsum = _mm512_load_pd(h->rowsum);
  const __m512d wscale = _mm512_cvtps_pd(_mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h->outlier_scale))));
  const __m256i wsum = _mm256_load_si256(reinterpret_cast<const __m256i*>(h->outlier_wsum));
  const __mmask8 store = __mmask8((1u << tile_rows(w, j0 / kTileRows)) - 1);
  for (int t = 0; t < T; ++t) {
    const int tt = t0 + t;
    // m_a 2^-24 is exact, so each S_a term is rounded once.
    __m512d r = _mm512_mul_pd(lo[t], _mm512_set1_pd(1.0 / double(kUnit)));
    for (int a = 0; a < 4; ++a)
      r = _mm512_fmadd_pd(plane_total(acc[t][a]), _mm512_set1_pd(double(x.m[tt * 4 + a]) / double(kUnit)), r);
    r = _mm512_fmadd_pd(rowsum, _mm512_set1_pd(double(x.mc[tt])), r);
    if (w.K > 0) {
      const __m256i od = outlier_dots(reinterpret_cast<const int8_t*>(tile + w.outlier_offset),
                                      x.outlier_q + int64_t(tt) * x.k_pad, w.k_pad, wsum);
      r = _mm512_fmadd_pd(_mm512_mul_pd(wscale, _mm512_set1_pd(double(x.outlier_scale[tt]))), _mm512_cvtepi32_pd(od), r);
    }
    _mm256_mask_storeu_ps(y + int64_t(tt) * w.out + j0, store, _mm512_cvtpd_ps(r));
  }
}

// Prefetch distance in tiles. At decode the core alternates between computing a tile and waiting
// for the next, and the hardware prefetcher alone did not keep enough lines in flight: fetching
// the tile 2 ahead, spread over the blocks of the current one, took the 4096x4096 GEMV on 1 thread
// from about 200 to 160 us with the weights in DRAM (1, 4 and 8 ahead measured the same).
// Into L2 (T1), not L1: on Zen 4, T0 left the GEMV far from both its compute and its memory
// bound (probably its prefetches held the L1 miss buffers that the kernel's own loads need).
// kernels_bench Bitwise_avx512/llama7b/4096x4096/n:1, 1 thread, DRAM: 424 -> 283-341 us; all
// linears of one TinyLlama-shaped decode token, 2 threads: 17.1-18.6 -> 11.6-12.8 ms.
constexpr int kPrefetchTiles = 2;

void gemm_avx512(const BinaryLayerView& w, const ActsView& x, int r0, int r1, float* y,
                 float* /*scratch*/) {
  const int n = x.n_tokens;
  const int64_t pf_step = tile_prefetch_step(w);
  for (int tile = r0 / kTileRows; tile * kTileRows < r1; ++tile) {
    const uint8_t* tp = w.tiles + int64_t(tile) * w.tile_stride;
    // Only the first token group prefetches: the later ones find the next tiles already cached.
    // Up to the layer's end, not r1: a thread's range comes in pieces (core/parallel.h) and the
    // next piece is usually its own.
    const uint8_t* pf = tile + kPrefetchTiles < w.n_tiles ? tp + kPrefetchTiles * w.tile_stride : nullptr;
    int t0 = 0;
    for (; t0 + kTokTile <= n; t0 += kTokTile)
      tile_tokens<kTokTile>(w, x, tp, tile * kTileRows, t0, y, t0 == 0 ? pf : nullptr, pf_step);
    for (; t0 < n; ++t0) tile_tokens<1>(w, x, tp, tile * kTileRows, t0, y, t0 == 0 ? pf : nullptr, pf_step);
  }
}

void counts_avx512(const BinaryLayerView& w, const ActsView& x, int r0, int r1, int32_t* counts,
                   int32_t* odot) {
  const int nb = w.n_blocks, cpb = w.chunks_per_block;
  for (int t = 0; t < x.n_tokens; ++t) {
    const uint64_t* pl = x.planes + int64_t(t) * w.n_chunks * 8;
    for (int tile = r0 / kTileRows; tile * kTileRows < r1; ++tile) {
      const uint8_t* tp = w.tiles + int64_t(tile) * w.tile_stride;
      const int j0 = tile * kTileRows, rows = tile_rows(w, tile);
      for (int l = 0; l < nb; ++l) {
        const uint64_t* blk = reinterpret_cast<const uint64_t*>(tp + tile_block_offset(l, w.block_stride));
        __m512i c[12];
        for (int k = 0; k < 12; ++k) c[k] = _mm512_setzero_si512();
        for (int ck = 0; ck < (l == nb - 1 ? w.last_chunks : cpb); ++ck) {
          const ChunkBits wb = chunk_bits(blk, ck);
          const uint64_t* b = pl + plane_word_index(l * cpb + ck, 0, 0);
          for (int a = 0; a < 4; ++a) {
            const PlaneCounts p = plane_counts(wb, b + 2 * a);
            c[a * 3 + 0] = _mm512_add_epi64(c[a * 3 + 0], p.c11);
            c[a * 3 + 1] = _mm512_add_epi64(c[a * 3 + 1], _mm512_add_epi64(p.c11, p.c10));  // pc(q&b)
            c[a * 3 + 2] = _mm512_add_epi64(c[a * 3 + 2], p.cs);
          }
        }
        for (int k = 0; k < 12; ++k) {
          alignas(64) int64_t v[8];
          _mm512_store_si512(v, c[k]);
          for (int lane = 0; lane < rows; ++lane) counts[((int64_t(t) * w.out + j0 + lane) * nb + l) * 12 + k] = int32_t(v[lane]);
        }
      }
      const TileHeader* h = reinterpret_cast<const TileHeader*>(tp);
      alignas(32) int32_t od[kTileRows];
      _mm256_store_si256(reinterpret_cast<__m256i*>(od),
                         outlier_dots(reinterpret_cast<const int8_t*>(tp + w.outlier_offset), x.outlier_q + int64_t(t) * x.k_pad,
                                      w.k_pad, _mm256_load_si256(reinterpret_cast<const __m256i*>(h->outlier_wsum))));
      for (int lane = 0; lane < rows; ++lane) odot[int64_t(t) * w.out + j0 + lane] = od[lane];
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

// Bitwise at every batch: with VPOPCNTQ the GEMM beats sgemm 2.8-3.3x at batch 128 (README).
const KernelTable kTable{"avx512", counts_avx512, gemm_avx512, int8_dot_avx512,
                       detail::kv_scores_avx512, detail::kv_wsum_avx512, 0, nullptr};

}  // namespace

const KernelTable& detail::table_avx512() { return kTable; }

}  // namespace binq
