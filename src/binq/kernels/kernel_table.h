// Raw views and the per-ISA kernel table. Deliberately free of std containers and of inline
// header functions: the *_avx2.cpp / *_avx512.cpp translation units are compiled with ISA flags,
// and any inline function they instantiate could be picked by the linker for baseline code.
#pragma once
#include <cstdint>

namespace binq {

// Word addresses in the chunk-group layouts (docs/format.md "Chunk groups"): chunks are stored in
// groups of 8 so one 512-bit vector holds the same word of 8 consecutive chunks.
// static: internal linkage, so every ISA translation unit keeps its own copy (see above).
// Weight bits of a row (u64 words from bits_offset): kind 0 = sign q, 1 = bitmap s; word w of 2.
// A group is [kind][word][lanes] with lanes = 8, except a short last group (n_chunks % 8 chunks),
// which is stored with lanes = n_chunks % 8 so no padding chunks are stored.
static constexpr int group_lanes(int group, int n_chunks) {
  return group < (n_chunks >> 3) ? 8 : (n_chunks & 7);
}
static constexpr int64_t weight_word_index(int chunk, int kind, int w, int n_chunks) {
  return int64_t(chunk >> 3) * 32 + (kind * 2 + w) * group_lanes(chunk >> 3, n_chunks) + (chunk & 7);
}
// Activation planes of a token (u64 words): plane a of 4, word w of 2.
static constexpr int64_t plane_word_index(int chunk, int a, int w) {
  return (int64_t(chunk >> 3) * 8 + a * 2 + w) * 8 + (chunk & 7);
}

// One packed W(1+1) layer, see docs/format.md "Packed binary linear layer".
struct BinaryLayerView {
  int out = 0, in = 0, K = 0, block_size = 0;
  int n_blocks = 0;
  int chunks_per_block = 0;  // 128-bit chunks of a full block
  int last_chunks = 0;       // chunks of the last (possibly short) block
  int n_chunks = 0;          // chunks of one row: (n_blocks-1)*chunks_per_block + last_chunks
  int n_groups = 0;          // ceil(n_chunks / 8): 256 bytes of bits each
  int k_pad = 0;             // K rounded up to 32
  int64_t row_stride = 0;    // bytes per row record (multiple of 32)
  int64_t params_offset = 0, bits_offset = 0, outlier_offset = 0;  // within a row record
  const uint8_t* rows = nullptr;
};

// Row header at offset 0 of every row record.
struct RowHeader {
  double rowsum;         // sum of the dequantized binary weights of the row (m_c term), exact
  int32_t outlier_wsum;  // sum of the INT8 outlier weights (VNNI u8 offset correction)
  uint16_t outlier_scale;  // FP16
  uint16_t pad0;
};
static_assert(sizeof(RowHeader) == 16);

// Activations of n tokens as produced by quantize_activations (+ per-call derived values).
struct ActsView {
  int n_tokens = 0, n_blocks = 0, n_chunks = 0, n_groups = 0, k_pad = 0;
  const uint64_t* planes = nullptr;   // [t][n_groups][4 planes][2 words][8 chunks]
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
// y[t*out + j] for rows [row_begin, row_end), all tokens. scratch: binary_gemm_scratch_bytes(w),
// 64-byte aligned (per-row parameters in the form each kernel wants). The combination of the
// exact integer counts with the parameters is exact or in double, and rounded to float once
// (docs/format.md).
static constexpr int64_t binary_gemm_scratch_bytes(const BinaryLayerView& w) {
  return 8 * (24 * int64_t(w.n_groups) + 4 * int64_t(w.n_blocks) + 32);
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

struct KernelTable {
  const char* name;
  BinaryCountsFn binary_counts;
  BinaryGemmFn binary_gemm;
  Int8DotFn int8_dot;
  KvScoresFn kv_scores;
  KvWeightedSumFn kv_weighted_sum;
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
