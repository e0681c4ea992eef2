// Raw views and the per-ISA kernel table. Deliberately free of std containers and of inline
// header functions: the *_avx2.cpp / *_avx512.cpp translation units are compiled with ISA flags,
// and any inline function they instantiate could be picked by the linker for baseline code.
#pragma once
#include <cstdint>

namespace binq {

// Row tiles (docs/format.md "Packed binary linear layer"): rows are stored in tiles of 8, and
// lane r of every vector in a tile belongs to row 8*tile + r, so one 512-bit vector holds the same
// u64 word (or the same 8 parameters) of 8 rows; activation words are broadcast to all lanes.
// static: internal linkage, so every ISA translation unit keeps its own copy (see above).
static constexpr int kTileRows = 8;
// Tile header, at offset 0 of every tile (row r of the tile in lane r; padding rows are zero).
struct TileHeader {
  double rowsum[8];           // sum of the row's dequantized binary weights (m_c term), exact
  int32_t outlier_wsum[8];    // sum of the row's INT8 outlier weights (VNNI u8 offset correction)
  uint16_t outlier_scale[8];  // FP16
  uint8_t zero[16];
};
static_assert(sizeof(TileHeader) == 128);
// Block record l of a tile starts at byte tile_block_offset(l, block_stride): FP16 parameters
// [4 kinds: lo0, d0, lo1, d1][8 lanes] (64 bytes), then its 128-bit chunks, each u64
// [kind: 0 = sign q, 1 = bitmap s][word 0..1][8 lanes] (256 bytes).
static constexpr int64_t tile_block_offset(int l, int64_t block_stride) {
  return int64_t(sizeof(TileHeader)) + l * block_stride;
}
static constexpr int tile_param_index(int kind, int lane) { return kind * 8 + lane; }  // u16
static constexpr int tile_bit_index(int chunk_in_block, int kind, int w, int lane) {   // u64
  return 8 + chunk_in_block * 32 + (kind * 2 + w) * 8 + lane;
}
// INT8 outlier weights from outlier_offset: [k / 4][8 lanes][k % 4], so a 256-bit vector holds
// 4 consecutive k of 8 rows (one VNNI dword per row).
static constexpr int64_t tile_outlier_index(int k, int lane) {
  return int64_t(k >> 2) * 32 + lane * 4 + (k & 3);
}
// Activation planes of a token (u64 words): [chunk][plane a of 4][word w of 2].
static constexpr int64_t plane_word_index(int chunk, int a, int w) {
  return int64_t(chunk) * 8 + a * 2 + w;
}

// One packed W(1+1) layer, see docs/format.md "Packed binary linear layer".
struct BinaryLayerView {
  int out = 0, in = 0, K = 0, block_size = 0;
  int n_blocks = 0;
  int chunks_per_block = 0;  // 128-bit chunks of a full block
  int last_chunks = 0;       // chunks of the last (possibly short) block
  int n_chunks = 0;          // chunks of one row: (n_blocks-1)*chunks_per_block + last_chunks
  int k_pad = 0;             // K rounded up to 32
  int n_tiles = 0;           // ceil(out / 8)
  int64_t tile_stride = 0;   // bytes per tile (multiple of 64)
  int64_t block_stride = 0;  // bytes per full block record: 64 + 256 * chunks_per_block
  int64_t outlier_offset = 0;  // within a tile
  const uint8_t* tiles = nullptr;
};
// Rows stored in tile `tile` (8, or fewer in a zero-padded last tile).
static constexpr int tile_rows(const BinaryLayerView& w, int tile) {
  return w.out - tile * kTileRows < kTileRows ? w.out - tile * kTileRows : kTileRows;
}

// Bytes of a tile to prefetch per block so that the blocks of one tile cover all of the next
// (a multiple of 64, the line size); the kernels prefetch a later tile while computing one.
static constexpr int64_t tile_prefetch_step(const BinaryLayerView& w) {
  return w.n_blocks > 0 ? ((w.tile_stride + w.n_blocks - 1) / w.n_blocks + 63) / 64 * 64 : 0;
}

// Activations of n tokens as produced by quantize_activations (+ per-call derived values).
struct ActsView {
  int n_tokens = 0, n_blocks = 0, n_chunks = 0, k_pad = 0;
  const uint64_t* planes = nullptr;   // [t][n_chunks][4 planes][2 words]
  const int32_t* plane_pop = nullptr; // [t][n_blocks][4]
  const float* m = nullptr;           // [t][4]   plane scales m_a
  const float* mc = nullptr;          // [t]      constant m_c
  const int8_t* outlier_q = nullptr;  // [t][k_pad] INT8 symmetric, zero padded
  const float* outlier_scale = nullptr;  // [t]
  // Derived per call by the front end:
  const double* lo_term = nullptr;    // [t][n_blocks]  sum_a m_a * plane_pop[t][l][a], in double
};

// Integer parts of the bitwise product, used to check all ISAs agree exactly:
// counts[((t*out + j)*n_blocks + l)*12 + a*3 + {0,1,2}] = pc(q&b_a&s), pc(q&b_a), pc(b_a&s);
// odot[t*out + j] = sum_k outlier_w[j,k] * outlier_q[t,k].
using BinaryCountsFn = void (*)(const BinaryLayerView& w, const ActsView& x, int row_begin,
                                int row_end, int32_t* counts, int32_t* odot);
// Row ranges given to the kernels are whole tiles: row_begin is a multiple of 8 and row_end is
// one or equals out, so no two threads write the same tile lanes.
// y[t*out + j] for rows [row_begin, row_end), all tokens. scratch: binary_gemm_scratch_bytes(w),
// 64-byte aligned: the parameters of a tile in the form a kernel wants (256 bytes per block + 64),
// then 512 bytes per chunk for one token's activation words in the form a kernel wants. The
// combination of the exact integer counts with the parameters is exact or in double, and rounded
// to float once (docs/format.md).
static constexpr int64_t binary_gemm_scratch_bytes(const BinaryLayerView& w) {
  return 8 * (32 * int64_t(w.n_blocks) + 8) + 512 * int64_t(w.n_chunks);
}
using BinaryGemmFn = void (*)(const BinaryLayerView& w, const ActsView& x, int row_begin,
                              int row_end, float* y, float* scratch);
// INT8 dot products: out[t*rows + j] = sum_k w[j*ld + k] * x[t*ld + k] for j in [r0, r1),
// ld a multiple of 32 (zero padded). wsum[j] = sum_k w[j*ld+k] (VNNI offset correction).
using Int8DotFn = void (*)(const int8_t* w, const int32_t* wsum, int rows, int ld,
                           const int8_t* x, int n_tokens, int row_begin, int row_end,
                           int32_t* out);

// Packed INT4 KV group (one token x one KV head, group = head_dim), see kernels/kv_int4.h:
// nibbles (element 2i low, 2i+1 high) and {FP16 scale mu, integer zero z}: x_hat = mu (q - z).
struct KvInt4Params {
  uint16_t scale;  // FP16
  int16_t zero;
};
// scores[t] = alpha * sum_d q[d] x_hat_t[d] for t < n. Group t: nib + t*stride*gbytes bytes,
// prm + t*stride, gbytes = (head_dim+1)/2. qe/qo: q de-interleaved (qe[i] = q[2i], qo[i] = q[2i+1],
// zero padded to a multiple of 32 entries).
using KvScoresFn = void (*)(const float* qe, const float* qo, int head_dim, const uint8_t* nib,
                            const KvInt4Params* prm, int64_t stride, int n, float alpha,
                            float* scores);
// oe[i] / oo[i] = sum_t p[t] x_hat_t[2i] / x_hat_t[2i+1] (overwritten; ceil(gbytes/16)*16 entries).
using KvWeightedSumFn = void (*)(const float* p, int n, const uint8_t* nib,
                                 const KvInt4Params* prm, int64_t stride, int head_dim, float* oe,
                                 float* oo);

// Dequantized weights of rows [row_begin, row_end) (whole tiles, as for BinaryGemmFn), row-major
// [row - row_begin][in] in permuted column order (binary channels, then the K outliers): exactly
// dequantize_permuted's floats, lo_s + d_s q and outlier_scale * w.
using DequantRowsFn = void (*)(const BinaryLayerView& w, int row_begin, int row_end, float* out);

struct KernelTable {
  const char* name;
  BinaryCountsFn binary_counts;
  BinaryGemmFn binary_gemm;
  Int8DotFn int8_dot;
  KvScoresFn kv_scores;
  KvWeightedSumFn kv_weighted_sum;
  // With BINQ_PREFILL=sgemm, batches of at least sgemm_from_tokens tokens (0: never) run as
  // dequantized row slabs times the dequantized activations through sgemm, where that beats this
  // ISA's bitwise GEMM (AVX2: no vector popcount; see packed_linear.h binary_gemm_group).
  int sgemm_from_tokens;
  DequantRowsFn dequant_rows;
};

namespace detail {
// KV attention kernels live in kv_attn_{scalar,avx2,avx512}.cpp.
void kv_scores_scalar(const float*, const float*, int, const uint8_t*, const KvInt4Params*, int64_t, int, float, float*);
void kv_wsum_scalar(const float*, int, const uint8_t*, const KvInt4Params*, int64_t, int, float*, float*);
void kv_scores_avx2(const float*, const float*, int, const uint8_t*, const KvInt4Params*, int64_t, int, float, float*);
void kv_wsum_avx2(const float*, int, const uint8_t*, const KvInt4Params*, int64_t, int, float*, float*);
void kv_scores_avx512(const float*, const float*, int, const uint8_t*, const KvInt4Params*, int64_t, int, float, float*);
void kv_wsum_avx512(const float*, int, const uint8_t*, const KvInt4Params*, int64_t, int, float*, float*);
const KernelTable& table_scalar();
const KernelTable& table_avx2();
const KernelTable& table_avx512();
}  // namespace detail

}  // namespace binq
