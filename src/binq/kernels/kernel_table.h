// Raw views and the per-ISA kernel table. Deliberately free of std containers and of inline
// header functions: the *_avx2.cpp / *_avx512.cpp translation units are compiled with ISA flags,
// and any inline function they instantiate could be picked by the linker for baseline code.
#pragma once
#include <cstdint>

namespace binq {

// One packed W(1+1) layer, see docs/format.md "Packed binary linear layer".
struct BinaryLayerView {
  int out = 0, in = 0, K = 0, block_size = 0;
  int n_blocks = 0;
  int chunks_per_block = 0;  // 128-bit chunks of a full block
  int last_chunks = 0;       // chunks of the last (possibly short) block
  int n_chunks = 0;          // chunks of one row: (n_blocks-1)*chunks_per_block + last_chunks
  int k_pad = 0;             // K rounded up to 32
  int64_t row_stride = 0;    // bytes per row record (multiple of 32)
  int64_t params_offset = 0, bits_offset = 0, outlier_offset = 0;  // within a row record
  const uint8_t* rows = nullptr;
};

// Row header at offset 0 of every row record.
struct RowHeader {
  float rowsum;          // sum of the dequantized binary weights of the row (m_c term)
  int32_t outlier_wsum;  // sum of the INT8 outlier weights (VNNI u8 offset correction)
  uint16_t outlier_scale;  // FP16
  uint16_t pad0;
  uint32_t pad1;
};
static_assert(sizeof(RowHeader) == 16);

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
  const float* lo_term = nullptr;     // [t][n_blocks]  sum_a m_a * plane_pop[t][l][a]
};

// Integer parts of the bitwise product, used to check all ISAs agree exactly:
// counts[((t*out + j)*n_blocks + l)*12 + a*3 + {0,1,2}] = pc(q&b_a&s), pc(q&b_a), pc(b_a&s);
// odot[t*out + j] = sum_k outlier_w[j,k] * outlier_q[t,k].
using BinaryCountsFn = void (*)(const BinaryLayerView& w, const ActsView& x, int row_begin,
                                int row_end, int32_t* counts, int32_t* odot);
// y[t*out + j] for rows [row_begin, row_end), all tokens. scratch: 4*n_blocks floats.
using BinaryGemmFn = void (*)(const BinaryLayerView& w, const ActsView& x, int row_begin,
                              int row_end, float* y, float* scratch);
// INT8 dot products: out[t*rows + j] = sum_k w[j*ld + k] * x[t*ld + k] for j in [r0, r1),
// ld a multiple of 32 (zero padded). wsum[j] = sum_k w[j*ld+k] (VNNI offset correction).
using Int8DotFn = void (*)(const int8_t* w, const int32_t* wsum, int rows, int ld,
                           const int8_t* x, int n_tokens, int row_begin, int row_end,
                           int32_t* out);

struct KernelTable {
  const char* name;
  BinaryCountsFn binary_counts;
  BinaryGemmFn binary_gemm;
  Int8DotFn int8_dot;
};

namespace detail {
const KernelTable& table_scalar();
const KernelTable& table_avx2();
const KernelTable& table_avx512();
}  // namespace detail

}  // namespace binq
