// AVX2 kernels over the row-tile layout (docs/format.md): lane r of a tile's vectors is row r, so
// one u64 word of the tile's 8 rows is two ymm (half h = 0: rows 0-3, h = 1: rows 4-7) and the
// token's activation words are broadcast, as in the AVX-512 kernel. AVX2 has no VPOPCNTQ, so per
// chunk, token, plane a and half h the three counts
//   c11 = pc(b & q & s), cq = pc(b & q), cs = pc(b & s)
// are nibble lookups: VPSHUFB of a 16-entry popcount table, the byte results added in bytes and
// VPSADBW giving each row's count in its 64-bit lane. The kernel is bound by its vector instruction
// count (about 13 per count, half and plane), so:
//  * a lookup is one AND and one VPSHUFB: the activation words are split once per (token, chunk)
//    into b & 0x0F.. and (b >> 4) & 0x0F.. (then broadcast), the weight words (q&s, q, s) shifted
//    right by 4 once per chunk; the broadcast masks clear the bits that cross nibbles.
//  * the high-nibble lookups use the complemented table (8 - pc), so VPSADBW(low sums, high sums)
//    adds the two halves itself and yields 128 G - count (G chunks); the offset is taken out once
//    per tile (off below). One byte addition less per count: batch 1, weights in L2, -4.5%.
//  * the weighting is integer, as in the AVX-512 kernel: FP16 parameters are exact integers in
//    units of 2^-24; when every parameter of the tile has |p| < 64 they (and d1 - d0, lo1 - lo0)
//    are int32, VPMULDQ multiplies the counts by them exactly and the per-plane sums S_a are exact
//    int64 (products below 2^41: no overflow below 2^27 weights per row). A tile with larger ones
//    (never in practice: the HugeParametersStayExact test) runs the same loops with the counts
//    converted to double and double FMAs (~1e-16 relative). Weights: d1 - d0 for c11, d0 for cq,
//    lo1 - lo0 for cs (the per-bit weight lo_s + d_s q minus lo0).
// The rest is in double and rounded to float once, as in every path: sum_a m_a 2^-24 S_a
// + lo0 . lo_term (the front end's sum_a m_a pc(b_a) per block) + m_c rowsum + s_w s_x * exact
// INT8 outlier dot (VPMADDUBSW sign trick), so the result equals the scalar reference to a few
// float ulps.
// Measured against the previous kernel (the 8 rows of a tile one at a time, scalar POPCNT, double
// FMA weighting), kernels_bench, 1 thread, weights from DRAM, Zen 5: 4096x4096 GEMV 1.09 -> 0.51 ms,
// batch 128 132 -> 54 ms.
// No std:: templates or inline header functions here (see kernel_table.h).
#include <immintrin.h>

#include <cstring>

#include "binq/kernels/kernel_table.h"

namespace binq {
namespace {

constexpr int kTokTile = 8;  // tokens sharing one preparation of a chunk's weight words (batch > 1)
constexpr int kGroup = 8;    // chunks summed in bytes before VPSADBW (high sums <= 16 G <= 255)
constexpr double kUnit = 16777216.0;  // 2^24: every FP16 value is an integer multiple of 2^-24

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

inline __m256i popcount_table() {
  return _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                          0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
}

// Unsigned 64-bit lanes below 2^52 -> double, exact (the lanes become the mantissa of 2^52 + v).
inline __m256d small_u64_to_pd(__m256i v) {
  const __m256d magic = _mm256_set1_pd(4503599627370496.0);  // 2^52
  return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(v, _mm256_castpd_si256(magic))), magic);
}

// Signed 64-bit lanes -> double, rounded once (AVX2 has no VCVTQQ2PD): v + 2^63 split in 32-bit
// halves, each exact in double, recombined by one FMA.
inline __m256d i64_to_pd(__m256i v) {
  const __m256i u = _mm256_xor_si256(v, _mm256_set1_epi64x(int64_t(0x8000000000000000ull)));
  const __m256d hi = _mm256_sub_pd(small_u64_to_pd(_mm256_srli_epi64(u, 32)), _mm256_set1_pd(2147483648.0));
  const __m256d lo = small_u64_to_pd(_mm256_and_si256(u, _mm256_set1_epi64x(0xFFFFFFFFll)));
  return _mm256_fmadd_pd(hi, _mm256_set1_pd(4294967296.0), lo);
}

// Parameters of every block of a tile, 8 vectors per block in `prm` (the scratch): p_k for
// k = 0, 1, 2 = d1 - d0, d0, lo1 - lo0 as [k][half], in units of 2^-24 (int64 lanes when the
// function returns true, double lanes otherwise), then lo0 of both halves as double (real units).
// Integer case: after the last block, off[h] = sum_l 128 nck_l (p_0 + p_1 + p_2)_l, int64: the
// value of sum (128 G - count) p_k when every count is 0 (see tile_tokens). Returns whether
// every parameter has |p| < 64, so that all p_k are int32 (checked on the FP16 bits: |h| < 0x5400
// = 64.0; NaN and inf fail).
bool tile_params(const BinaryLayerView& w, const uint8_t* tile, __m256i* prm) {
  const int nb = w.n_blocks;
  const __m256 unit = _mm256_set1_ps(float(kUnit));
  const __m256i abs16 = _mm256_set1_epi16(0x7FFF);
  __m256i amax = _mm256_setzero_si256(), sum_full[2], sum_last[2];
  sum_full[0] = sum_full[1] = sum_last[0] = sum_last[1] = amax;
  for (int l = 0; l < nb; ++l) {
    const uint8_t* blk = tile + tile_block_offset(l, w.block_stride);
    const __m128i* h = reinterpret_cast<const __m128i*>(blk);
    const __m256i* h2 = reinterpret_cast<const __m256i*>(blk);
    amax = _mm256_max_epu16(amax, _mm256_max_epu16(_mm256_and_si256(_mm256_load_si256(h2), abs16),
                                                   _mm256_and_si256(_mm256_load_si256(h2 + 1), abs16)));
    const __m256 lo0 = _mm256_cvtph_ps(_mm_load_si128(h));
    __m256d* pd = reinterpret_cast<__m256d*>(prm + 8 * l);
    pd[6] = _mm256_cvtps_pd(_mm256_castps256_ps128(lo0));
    pd[7] = _mm256_cvtps_pd(_mm256_extractf128_ps(lo0, 1));
    // x 2^24 is exact; the results are meaningful only if the check passes (else overwritten).
    const __m256i d0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtph_ps(_mm_load_si128(h + 1)), unit));
    const __m256i v[3] = {_mm256_sub_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtph_ps(_mm_load_si128(h + 3)), unit)), d0), d0,
                          _mm256_sub_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtph_ps(_mm_load_si128(h + 2)), unit)),
                                           _mm256_cvtps_epi32(_mm256_mul_ps(lo0, unit)))};
    __m256i* sum = l == nb - 1 ? sum_last : sum_full;
    for (int hh = 0; hh < 2; ++hh) {
      __m256i* p = prm + 8 * l + hh;
      for (int k = 0; k < 3; ++k)
        p[2 * k] = _mm256_cvtepi32_epi64(hh ? _mm256_extracti128_si256(v[k], 1) : _mm256_castsi256_si128(v[k]));
      sum[hh] = _mm256_add_epi64(sum[hh], _mm256_add_epi64(_mm256_add_epi64(p[0], p[2]), p[4]));
    }
  }
  if (_mm256_movemask_epi8(_mm256_cmpeq_epi16(_mm256_max_epu16(amax, _mm256_set1_epi16(0x53FF)),
                                               _mm256_set1_epi16(0x53FF))) == -1) {
    alignas(32) int64_t f[8], e[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(f), sum_full[0]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(f + 4), sum_full[1]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(e), sum_last[0]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(e + 4), sum_last[1]);
    for (int r = 0; r < 8; ++r) f[r] = 128 * (f[r] * w.chunks_per_block + e[r] * w.last_chunks);
    prm[8 * nb] = _mm256_load_si256(reinterpret_cast<const __m256i*>(f));
    prm[8 * nb + 1] = _mm256_load_si256(reinterpret_cast<const __m256i*>(f + 4));
    return true;
  }
  // Large parameters (never in practice): doubles in units of 2^-24 (exact).
  for (int l = 0; l < nb; ++l) {
    const __m128i* h = reinterpret_cast<const __m128i*>(tile + tile_block_offset(l, w.block_stride));
    __m256d* pd = reinterpret_cast<__m256d*>(prm + 8 * l);
    const __m256 v[4] = {_mm256_cvtph_ps(_mm_load_si128(h + 3)), _mm256_cvtph_ps(_mm_load_si128(h + 1)),
                         _mm256_cvtph_ps(_mm_load_si128(h + 2)), _mm256_cvtph_ps(_mm_load_si128(h))};
    for (int hh = 0; hh < 2; ++hh) {
      __m256d d[4];
      for (int k = 0; k < 4; ++k)
        d[k] = _mm256_cvtps_pd(hh ? _mm256_extractf128_ps(v[k], 1) : _mm256_castps256_ps128(v[k]));
      // d1 - d0 and lo1 - lo0 are exact in double.
      pd[hh] = _mm256_mul_pd(_mm256_sub_pd(d[0], d[1]), _mm256_set1_pd(kUnit));
      pd[2 + hh] = _mm256_mul_pd(d[1], _mm256_set1_pd(kUnit));
      pd[4 + hh] = _mm256_mul_pd(_mm256_sub_pd(d[2], d[3]), _mm256_set1_pd(kUnit));
    }
  }
  return false;
}

// Weight words of chunk ck for the lookups, 24 vectors at wb: for word wd and half h,
// wb[(wd*2 + h)*6 + k] = q&s, q, s (k = 0, 1, 2) and the same shifted right by 4 (k + 3).
inline void prep_weights(const uint64_t* blk, int ck, __m256i* wb) {
  for (int wd = 0; wd < 2; ++wd)
    for (int h = 0; h < 2; ++h, wb += 6) {
      const __m256i q = _mm256_load_si256(reinterpret_cast<const __m256i*>(blk + tile_bit_index(ck, 0, wd, 4 * h)));
      const __m256i s = _mm256_load_si256(reinterpret_cast<const __m256i*>(blk + tile_bit_index(ck, 1, wd, 4 * h)));
      wb[0] = _mm256_and_si256(q, s);
      wb[1] = q;
      wb[2] = s;
      for (int k = 0; k < 3; ++k) wb[3 + k] = _mm256_srli_epi64(wb[k], 4);
    }
}

// Activation words of one chunk of a token (8 u64: plane a, word wd at a*2 + wd) split into
// nibble masks: bb[a*2 + wd] = b & 0x0F.., bb[8 + a*2 + wd] = (b >> 4) & 0x0F...
inline void prep_acts(const uint64_t* planes, uint64_t* bb) {
  const __m256i m = _mm256_set1_epi8(0x0F);
  for (int i = 0; i < 2; ++i) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(planes + 4 * i));
    _mm256_store_si256(reinterpret_cast<__m256i*>(bb + 4 * i), _mm256_and_si256(v, m));
    _mm256_store_si256(reinterpret_cast<__m256i*>(bb + 8 + 4 * i), _mm256_and_si256(_mm256_srli_epi64(v, 4), m));
  }
}

// Byte sums of one chunk for plane a and half h (rows 4h..4h+3), per k (q&s, q, s):
// x[k] = lookups of the low nibbles (popcounts), y[k] = lookups of the high nibbles in the
// complemented table (8 - popcount). VPSADBW(x, y) then sums y - x >= 0 over each row's 8 bytes:
// 128 G - count for a group of G chunks.
struct ByteSums {
  __m256i x[3], y[3];
};
inline ByteSums chunk_sums(const __m256i* wb, const uint64_t* bb, int a, int h, __m256i lut, __m256i lutc) {
  ByteSums r;
  for (int wd = 0; wd < 2; ++wd) {
    const __m256i bl = _mm256_set1_epi64x(int64_t(bb[a * 2 + wd]));
    const __m256i bh = _mm256_set1_epi64x(int64_t(bb[8 + a * 2 + wd]));
    const __m256i* p = wb + (wd * 2 + h) * 6;
    for (int k = 0; k < 3; ++k) {
      const __m256i lx = _mm256_shuffle_epi8(lut, _mm256_and_si256(bl, p[k]));
      const __m256i ly = _mm256_shuffle_epi8(lutc, _mm256_and_si256(bh, p[3 + k]));
      r.x[k] = wd == 0 ? lx : _mm256_add_epi8(r.x[k], lx);
      r.y[k] = wd == 0 ? ly : _mm256_add_epi8(r.y[k], ly);
    }
  }
  return r;
}

// 128 G - (per-row counts) of G <= kGroup chunks (y <= 16 G <= 255: no byte overflow), per k.
// kOne: G == 1 (blocks of up to 128 weights), compiled as its own loop: merged with the general
// case the compiler spilled the byte sums around the group loop (13% slower).
template <bool kOne>
inline void group_sads(const __m256i* wb, const uint64_t* bb, int G, int a, int h, __m256i lut, __m256i lutc,
                       __m256i* sad) {
  ByteSums r = chunk_sums(wb, bb, a, h, lut, lutc);
  if (!kOne)
    for (int j = 1; j < G; ++j) {
      const ByteSums d = chunk_sums(wb + 24 * j, bb + 16 * j, a, h, lut, lutc);
      for (int k = 0; k < 3; ++k) {
        r.x[k] = _mm256_add_epi8(r.x[k], d.x[k]);
        r.y[k] = _mm256_add_epi8(r.y[k], d.y[k]);
      }
    }
  for (int k = 0; k < 3; ++k) sad[k] = _mm256_sad_epu8(r.x[k], r.y[k]);
}

// INT8 outlier dots of a tile's 8 rows (lane = row) with one token: per 4 k, the 8 rows' weights
// are one 256-bit vector and the token's 4 values are broadcast (s8 x s8 via VPMADDUBSW with the
// sign trick: |w| as u8, sign(w)*x as s8; no saturation since |x| <= 127, |w| <= 128).
inline __m256i tile_outlier_dots(const BinaryLayerView& w, const uint8_t* tile, const int8_t* xq) {
  const int8_t* ow = reinterpret_cast<const int8_t*>(tile + w.outlier_offset);
  __m256i acc = _mm256_setzero_si256();
  for (int k = 0; k < w.k_pad; k += 4) {
    int32_t xv;
    std::memcpy(&xv, xq + k, 4);
    const __m256i wv = _mm256_load_si256(reinterpret_cast<const __m256i*>(ow + tile_outlier_index(k, 0)));
    const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(wv), _mm256_sign_epi8(_mm256_set1_epi32(xv), wv));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
  }
  return acc;
}

// For the 4 rows of one half, sad[k] = 128 G - count_k and p[2k] = p_k of the half (tile_params):
// acc += sum_k sad[k] p_k in exact int64 (kInt), or acc += sum_k count_k p_k in double.
template <bool kInt>
inline __m256i weigh(__m256i acc, const __m256i* sad, const __m256i* p, int G) {
  if (kInt) {
    // (128 G - count) < 2^11 times int32 parameters: exact int64 products.
    const __m256i s = _mm256_add_epi64(_mm256_mul_epi32(sad[0], p[0]), _mm256_mul_epi32(sad[1], p[2]));
    return _mm256_add_epi64(acc, _mm256_add_epi64(s, _mm256_mul_epi32(sad[2], p[4])));
  }
  const __m256i full = _mm256_set1_epi64x(128 * G);
  __m256d s = _mm256_castsi256_pd(acc);
  for (int k = 0; k < 3; ++k)
    s = _mm256_fmadd_pd(small_u64_to_pd(_mm256_sub_epi64(full, sad[k])), reinterpret_cast<const __m256d*>(p)[2 * k], s);
  return _mm256_castpd_si256(s);
}

// Batch 1 with one-chunk blocks (B <= 128, the usual case). Two things keep it at its
// instruction count: the token's activation nibble masks are broadcast once per call into whole
// vectors (expand_acts), so each lookup's AND takes its activation operand from memory and the
// loop issues no broadcast; and the 4 rows of one half are walked over all blocks at once (half
// outer), so its 4 plane accumulators, the chunk's weight vectors and both tables stay in the 16
// ymm registers.
// A: per chunk 16 vectors [plane a][b & 0x0F.. of word 0, of word 1, (b >> 4) & 0x0F.. of word 0, of word 1].
void expand_acts(const uint64_t* planes, int n_chunks, __m256i* A) {
  alignas(32) uint64_t bb[16];
  for (int c = 0; c < n_chunks; ++c) {
    prep_acts(planes + plane_word_index(c, 0, 0), bb);
    for (int a = 0; a < 4; ++a)
      for (int i = 0; i < 4; ++i) A[c * 16 + a * 4 + i] = _mm256_set1_epi64x(int64_t(bb[(i >> 1) * 8 + a * 2 + (i & 1)]));
  }
}

// acc[a] (rows of one half) += the weighted count of weight words w0, w1 (one chunk, 4 rows) with
// each of the chunk's 4 activation planes Al, as weigh() does for the one count whose p_k is *pk.
template <bool kInt>
inline void plane_lookups(__m256i w0, __m256i w1, const __m256i* Al, __m256i lut, __m256i lutc, const __m256i* pk,
                          __m256i* acc) {
  const __m256i v0 = _mm256_srli_epi64(w0, 4), v1 = _mm256_srli_epi64(w1, 4);
  for (int a = 0; a < 4; ++a) {
    const __m256i x = _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(w0, Al[a * 4])),
                                      _mm256_shuffle_epi8(lut, _mm256_and_si256(w1, Al[a * 4 + 1])));
    const __m256i y = _mm256_add_epi8(_mm256_shuffle_epi8(lutc, _mm256_and_si256(v0, Al[a * 4 + 2])),
                                      _mm256_shuffle_epi8(lutc, _mm256_and_si256(v1, Al[a * 4 + 3])));
    const __m256i sad = _mm256_sad_epu8(x, y);  // 128 - count
    acc[a] = kInt ? _mm256_add_epi64(acc[a], _mm256_mul_epi32(sad, *pk))
                  : _mm256_castpd_si256(_mm256_fmadd_pd(small_u64_to_pd(_mm256_sub_epi64(_mm256_set1_epi64x(128), sad)),
                                                        _mm256_castsi256_pd(*pk), _mm256_castsi256_pd(acc[a])));
  }
}

// Rows 4h..4h+3 of a tile, one token, every block one chunk: acc[a][h] and lo as in tile_tokens.
template <bool kInt>
void half_one_token(const BinaryLayerView& w, const uint8_t* tile, const __m256i* prm, const __m256i* A,
                    const double* lo_term, int h, const uint8_t* next, __m256i (*acc)[2], __m256d* lo) {
  const __m256i lut = popcount_table(), lutc = _mm256_sub_epi8(_mm256_set1_epi8(8), lut);
  const int64_t pf_step = tile_prefetch_step(w);
  __m256i ac[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  __m256d l0 = _mm256_setzero_pd();
  for (int l = 0; l < w.n_blocks; ++l) {
    if (next)  // see tile_tokens
      for (int64_t o = l * pf_step; o < (l + 1) * pf_step && o < w.tile_stride; o += 64)
        _mm_prefetch(reinterpret_cast<const char*>(next + o), _MM_HINT_T1);
    const __m256i* p = prm + 8 * l + h;
    l0 = _mm256_fmadd_pd(*reinterpret_cast<const __m256d*>(p + 6), _mm256_set1_pd(lo_term[l]), l0);
    const uint64_t* blk = reinterpret_cast<const uint64_t*>(tile + tile_block_offset(l, w.block_stride));
    const __m256i* q = reinterpret_cast<const __m256i*>(blk + tile_bit_index(0, 0, 0, 4 * h));
    const __m256i* sv = reinterpret_cast<const __m256i*>(blk + tile_bit_index(0, 1, 0, 4 * h));
    const __m256i* Al = A + 16 * l;
    // Word 1 of a kind is 8 u64 (2 vectors) after word 0 (tile_bit_index).
    const __m256i q0 = _mm256_load_si256(q), q1 = _mm256_load_si256(q + 2);
    const __m256i s0 = _mm256_load_si256(sv), s1 = _mm256_load_si256(sv + 2);
    plane_lookups<kInt>(q0, q1, Al, lut, lutc, p + 2, ac);                                        // cq
    plane_lookups<kInt>(s0, s1, Al, lut, lutc, p + 4, ac);                                        // cs
    plane_lookups<kInt>(_mm256_and_si256(q0, s0), _mm256_and_si256(q1, s1), Al, lut, lutc, p, ac);  // c11
  }
  for (int a = 0; a < 4; ++a) acc[a][h] = ac[a];
  *lo = l0;
}

// One group of G chunks (weights prepared in wb) for T tokens (planes: the group's first chunk of
// the first token): acc[t][a][h] = weigh(acc[t][a][h], ...).
template <bool kInt, bool kOne>
void group_tokens(const __m256i* p, const __m256i* wb, int G, const uint64_t* planes,
                  int64_t tok_words, int T, __m256i (*acc)[4][2]) {
  const __m256i lut = popcount_table(), lutc = _mm256_sub_epi8(_mm256_set1_epi8(8), lut);
  alignas(32) uint64_t bb[kGroup * 16];
  for (int t = 0; t < T; ++t) {
    for (int j = 0; j < G; ++j) prep_acts(planes + t * tok_words + 8 * j, bb + 16 * j);
    for (int a = 0; a < 4; ++a)
      for (int h = 0; h < 2; ++h) {
        __m256i sad[3];
        group_sads<kOne>(wb, bb, G, a, h, lut, lutc, sad);
        acc[t][a][h] = weigh<kInt>(acc[t][a][h], sad, p + h, G);
      }
  }
}

// The 8 rows of one tile x tokens [t0, t0 + T). kInt: integer parameters (see tile_params).
template <bool kInt>
void tile_tokens(const BinaryLayerView& w, const ActsView& x, const uint8_t* tile, int tile_idx,
                 const __m256i* prm, int t0, int T, const uint8_t* next, float* y) {
  const int nb = w.n_blocks, cpb = w.chunks_per_block;
  const int64_t tok_words = int64_t(w.n_chunks) * 8, pf_step = tile_prefetch_step(w);
  const uint64_t* planes = x.planes + int64_t(t0) * tok_words;
  const __m256i zero = _mm256_setzero_si256();
  alignas(32) __m256i wb[kGroup * 24];
  // acc[t][a][h]: rows 4h..4h+3 of sum (128 G - count) p over the groups (int64 lanes, so
  // S_a = off - acc) or S_a itself (double lanes); lo[t][h]: the lo0 part.
  __m256i acc[kTokTile][4][2];
  __m256d lo[kTokTile][2];
  for (int t = 0; t < T; ++t) {
    lo[t][0] = lo[t][1] = _mm256_setzero_pd();
    for (int a = 0; a < 4; ++a) acc[t][a][0] = acc[t][a][1] = zero;
  }
  const bool one = x.n_tokens == 1 && cpb == 1;  // every block one chunk (then so is the last)
  if (one) {
    const __m256i* A = prm + 8 * nb + 2;  // expand_acts of the token, by gemm_avx2
    for (int h = 0; h < 2; ++h)
      half_one_token<kInt>(w, tile, prm, A, x.lo_term + int64_t(t0) * nb, h, h == 0 ? next : nullptr, acc[0],
                           &lo[0][h]);
  } else {
    for (int l = 0; l < nb; ++l) {
      const __m256i* p = prm + 8 * l;
      const __m256d* lo0 = reinterpret_cast<const __m256d*>(p + 6);
      for (int t = 0; t < T; ++t) {
        const __m256d lt = _mm256_set1_pd(x.lo_term[int64_t(t0 + t) * nb + l]);
        lo[t][0] = _mm256_fmadd_pd(lo0[0], lt, lo[t][0]);
        lo[t][1] = _mm256_fmadd_pd(lo0[1], lt, lo[t][1]);
      }
      if (next) {
        // The hardware prefetchers do not keep up with the tile walk (11 KB, read strided by
        // tile_params, then crossing pages), so fetch the next tile, one nb-th of it per block:
        // 4096x4096 GEMV from DRAM, 1 thread, 1.06 -> 0.51 ms (0.49 ms with the weights in cache).
        // Into L2, as in the AVX-512 kernel (see there); compute bound here, so T0 and T1 measure the same.
        for (int64_t o = l * pf_step; o < (l + 1) * pf_step && o < w.tile_stride; o += 64)
          _mm_prefetch(reinterpret_cast<const char*>(next + o), _MM_HINT_T1);
      }
      const uint64_t* blk = reinterpret_cast<const uint64_t*>(tile + tile_block_offset(l, w.block_stride));
      const int nck = l == nb - 1 ? w.last_chunks : cpb;
      for (int g = 0; g < nck; g += kGroup) {
        const int G = nck - g < kGroup ? nck - g : kGroup;
        for (int j = 0; j < G; ++j) prep_weights(blk, g + j, wb + 24 * j);
        if (G == 1)
          group_tokens<kInt, true>(p, wb, 1, planes + plane_word_index(l * cpb + g, 0, 0), tok_words, T, acc);
        else
          group_tokens<kInt, false>(p, wb, G, planes + plane_word_index(l * cpb + g, 0, 0), tok_words, T, acc);
      }
    }
  }
  const TileHeader* hd = reinterpret_cast<const TileHeader*>(tile);
  const __m256 ws8 = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(hd->outlier_scale)));
  const __m256d wscale[2] = {_mm256_cvtps_pd(_mm256_castps256_ps128(ws8)), _mm256_cvtps_pd(_mm256_extractf128_ps(ws8, 1))};
  const int rows = tile_rows(w, tile_idx), j0 = tile_idx * kTileRows;
  for (int t = 0; t < T; ++t) {
    const int tt = t0 + t;
    __m128i od[2] = {_mm_setzero_si128(), _mm_setzero_si128()};
    if (w.K > 0) {
      const __m256i o = tile_outlier_dots(w, tile, x.outlier_q + int64_t(tt) * x.k_pad);
      od[0] = _mm256_castsi256_si128(o);
      od[1] = _mm256_extracti128_si256(o, 1);
    }
    const __m256d osc = _mm256_set1_pd(double(x.outlier_scale[tt])), mc = _mm256_set1_pd(double(x.mc[tt]));
    __m128 f[2];
    for (int h = 0; h < 2; ++h) {
      // m_a 2^-24 is exact, so each S_a term is rounded once.
      __m256d r = lo[t][h];
      for (int a = 0; a < 4; ++a) {
        const __m256d s = kInt ? i64_to_pd(_mm256_sub_epi64(prm[8 * nb + h], acc[t][a][h]))
                               : _mm256_castsi256_pd(acc[t][a][h]);
        r = _mm256_fmadd_pd(s, _mm256_set1_pd(double(x.m[tt * 4 + a]) / kUnit), r);
      }
      r = _mm256_fmadd_pd(_mm256_loadu_pd(hd->rowsum + 4 * h), mc, r);
      if (w.K > 0) r = _mm256_fmadd_pd(_mm256_mul_pd(wscale[h], osc), _mm256_cvtepi32_pd(od[h]), r);
      f[h] = _mm256_cvtpd_ps(r);
    }
    float* yt = y + int64_t(tt) * w.out + j0;
    if (rows == kTileRows) {
      _mm_storeu_ps(yt, f[0]);
      _mm_storeu_ps(yt + 4, f[1]);
    } else {
      alignas(16) float v[kTileRows];
      _mm_store_ps(v, f[0]);
      _mm_store_ps(v + 4, f[1]);
      for (int r = 0; r < rows; ++r) yt[r] = v[r];
    }
  }
}

// scratch: binary_gemm_scratch_bytes(w), 64-byte aligned: tile_params of one tile (256 bytes per
// block + 64), then expand_acts of a single token (512 bytes per chunk).
void gemm_avx2(const BinaryLayerView& w, const ActsView& x, int r0, int r1, float* y, float* scratch) {
  __m256i* prm = reinterpret_cast<__m256i*>(scratch);
  if (x.n_tokens == 1 && w.chunks_per_block == 1) expand_acts(x.planes, w.n_chunks, prm + 8 * w.n_blocks + 2);
  for (int tile = r0 / kTileRows; tile * kTileRows < r1; ++tile) {
    const uint8_t* tp = w.tiles + int64_t(tile) * w.tile_stride;
    const bool int_ok = tile_params(w, tp, prm);
    const uint8_t* next = tile + 1 < w.n_tiles ? tp + w.tile_stride : nullptr;  // to the layer's end, as in AVX-512
    for (int t0 = 0; t0 < x.n_tokens; t0 += kTokTile) {
      const int T = x.n_tokens - t0 < kTokTile ? x.n_tokens - t0 : kTokTile;
      if (int_ok)
        tile_tokens<true>(w, x, tp, tile, prm, t0, T, t0 == 0 ? next : nullptr, y);
      else
        tile_tokens<false>(w, x, tp, tile, prm, t0, T, t0 == 0 ? next : nullptr, y);
    }
  }
}

// Integer parts with the same counting code (checked equal to the scalar reference).
void counts_avx2(const BinaryLayerView& w, const ActsView& x, int r0, int r1, int32_t* counts,
                 int32_t* odot) {
  const int nb = w.n_blocks, cpb = w.chunks_per_block;
  const __m256i lut = popcount_table(), lutc = _mm256_sub_epi8(_mm256_set1_epi8(8), lut);
  alignas(32) __m256i wb[kGroup * 24];
  alignas(32) uint64_t bb[kGroup * 16];
  for (int t = 0; t < x.n_tokens; ++t) {
    const uint64_t* pl = x.planes + int64_t(t) * x.n_chunks * 8;
    for (int tile = r0 / kTileRows; tile * kTileRows < r1; ++tile) {
      const uint8_t* tp = w.tiles + int64_t(tile) * w.tile_stride;
      const int j0 = tile * kTileRows, rows = tile_rows(w, tile);
      for (int l = 0; l < nb; ++l) {
        const uint64_t* blk = reinterpret_cast<const uint64_t*>(tp + tile_block_offset(l, w.block_stride));
        __m256i cnt[4][6];  // [a][k*2 + h], 64-bit lanes
        for (int a = 0; a < 4; ++a)
          for (int i = 0; i < 6; ++i) cnt[a][i] = _mm256_setzero_si256();
        const int nck = l == nb - 1 ? w.last_chunks : cpb;
        for (int g = 0; g < nck; g += kGroup) {
          const int G = nck - g < kGroup ? nck - g : kGroup;
          for (int j = 0; j < G; ++j) {
            prep_weights(blk, g + j, wb + 24 * j);
            prep_acts(pl + plane_word_index(l * cpb + g + j, 0, 0), bb + 16 * j);
          }
          for (int a = 0; a < 4; ++a)
            for (int h = 0; h < 2; ++h) {
              __m256i sad[3];
              group_sads<false>(wb, bb, G, a, h, lut, lutc, sad);
              for (int k = 0; k < 3; ++k)
                cnt[a][k * 2 + h] = _mm256_add_epi64(cnt[a][k * 2 + h], _mm256_sub_epi64(_mm256_set1_epi64x(128 * G), sad[k]));
            }
        }
        for (int a = 0; a < 4; ++a) {
          alignas(32) int64_t v[6][4];
          for (int i = 0; i < 6; ++i) _mm256_store_si256(reinterpret_cast<__m256i*>(v[i]), cnt[a][i]);
          for (int r = 0; r < rows; ++r) {
            const int h = r / 4, lane = r % 4;
            int32_t* c = counts + ((int64_t(t) * w.out + j0 + r) * nb + l) * 12 + a * 3;
            c[0] = int32_t(v[h][lane]);                      // pc(q&b&s)
            c[1] = int32_t(v[2 + h][lane]);                  // pc(q&b)
            c[2] = int32_t(v[4 + h][lane]);                  // pc(b&s)
          }
        }
      }
      alignas(32) int32_t od[kTileRows];
      _mm256_store_si256(reinterpret_cast<__m256i*>(od), tile_outlier_dots(w, tp, x.outlier_q + int64_t(t) * x.k_pad));
      for (int r = 0; r < rows; ++r) odot[int64_t(t) * w.out + j0 + r] = od[r];
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

// Dequantized weights of whole tiles (DequantRowsFn). Per row, block and 8 weights: the sign and
// bitmap bytes give 8 codes q + 2s (variable shifts), VPERMPS picks each weight from the block's 4
// levels lo0, lo0 + d0, lo1, lo1 + d1 (float, as dequantize_permuted rounds them).
void dequant_avx2(const BinaryLayerView& w, int r0, int r1, float* out) {
  const int bw = w.in - w.K, B = w.block_size, cpb = w.chunks_per_block;
  const __m256i shq = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), shs = _mm256_add_epi32(shq, _mm256_set1_epi32(7));
  const __m256i one = _mm256_set1_epi32(1), two = _mm256_set1_epi32(2);
  for (int tile = r0 / kTileRows; tile * kTileRows < r1; ++tile) {
    const uint8_t* tp = w.tiles + int64_t(tile) * w.tile_stride;
    const int rows = tile_rows(w, tile);
    for (int l = 0; l < w.n_blocks; ++l) {
      const uint8_t* blk = tp + tile_block_offset(l, w.block_stride);
      const uint16_t* prm = reinterpret_cast<const uint16_t*>(blk);
      const uint64_t* bits = reinterpret_cast<const uint64_t*>(blk);
      const int len = bw - l * B < B ? bw - l * B : B, nck = l == w.n_blocks - 1 ? w.last_chunks : cpb;
      for (int r = 0; r < rows; ++r) {
        const __m128 p = _mm_cvtph_ps(_mm_setr_epi16(short(prm[tile_param_index(0, r)]), short(prm[tile_param_index(1, r)]),
                                                     short(prm[tile_param_index(2, r)]), short(prm[tile_param_index(3, r)]), 0, 0, 0, 0));
        alignas(16) float v[4];  // lo0, d0, lo1, d1
        _mm_store_ps(v, p);
        const __m256 lev = _mm256_setr_ps(v[0], v[0] + v[1], v[2], v[2] + v[3], 0, 0, 0, 0);
        float* dst = out + int64_t(tile * kTileRows + r - r0) * w.in + int64_t(l) * B;
        for (int ck = 0; ck < nck; ++ck)
          for (int wd = 0; wd < 2; ++wd) {
            const int e0 = ck * 128 + wd * 64, n = len - e0 < 64 ? len - e0 : 64;
            const uint64_t q = bits[tile_bit_index(ck, 0, wd, r)], s = bits[tile_bit_index(ck, 1, wd, r)];
            for (int g = 0; g < n; g += 8) {
              // q bits in bits 0-7, s bits in 8-15: lane i takes q bit i and s bit i (as 2).
              const __m256i qs = _mm256_set1_epi32(int(((q >> g) & 0xFF) | (((s >> g) & 0xFF) << 8)));
              const __m256i code = _mm256_or_si256(_mm256_and_si256(_mm256_srlv_epi32(qs, shq), one),
                                                   _mm256_and_si256(_mm256_srlv_epi32(qs, shs), two));
              const __m256 val = _mm256_permutevar8x32_ps(lev, code);
              if (n - g >= 8) {
                _mm256_storeu_ps(dst + e0 + g, val);
              } else {
                alignas(32) float t[8];
                _mm256_store_ps(t, val);
                for (int i = 0; i < n - g; ++i) dst[e0 + g + i] = t[i];
              }
            }
          }
      }
    }
    const TileHeader* hd = reinterpret_cast<const TileHeader*>(tp);
    const int8_t* ow = reinterpret_cast<const int8_t*>(tp + w.outlier_offset);
    for (int r = 0; r < rows && w.K > 0; ++r) {
      const float sc = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(hd->outlier_scale[r])));
      float* dst = out + int64_t(tile * kTileRows + r - r0) * w.in + bw;
      for (int k = 0; k < w.K; ++k) dst[k] = sc * float(ow[tile_outlier_index(k, r)]);
    }
  }
}

// Batch 32 and more may go through sgemm (BINQ_PREFILL=sgemm): without a vector popcount, the nibble lookups cost about as
// many instructions per weight and token as sgemm's FMAs (kernels_bench, 1 thread, Zen 5, AVX2
// paths: 4096x4096 batch 32 bitwise 17.7 ms, sgemm 17.7 ms; batch 128 70.7 vs 49.0 ms).
const KernelTable kTable{"avx2", counts_avx2, gemm_avx2, int8_dot_avx2,
                       detail::kv_scores_avx2, detail::kv_wsum_avx2, 32, dequant_avx2};

}  // namespace

const KernelTable& detail::table_avx2() { return kTable; }

}  // namespace binq
