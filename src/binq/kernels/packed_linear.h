// Packed W(1+1) linear layer for the bitwise kernels (layout: docs/format.md, section
// "Packed binary linear layer") and the front ends that run it.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "binq/kernels/act_quant.h"
#include "binq/kernels/aligned_buffer.h"
#include "binq/kernels/kernel_table.h"
#include "binq/quant/binary_layer.h"  // header-only use: the struct, no quant/ symbols

namespace binq {

struct PackedBinaryLinear {
  int out_features = 0, in_features = 0, n_outliers = 0, block_size = 0;
  int n_blocks = 0, chunks_per_block = 0, last_chunks = 0, n_chunks = 0, k_pad = 0, n_tiles = 0;
  // Parameters small enough for the AVX-512 kernel's exact integer accumulation (always true
  // for realistic weights); binary_gemm falls back to the AVX2 kernel otherwise.
  bool int_accumulation_ok = true;
  int64_t tile_stride = 0, block_stride = 0, outlier_offset = 0;
  std::vector<int32_t> perm;  // [in]
  AlignedBuffer tiles;        // [n_tiles x tile_stride]: 8 rows per tile, the last one zero padded

  int binary_width() const { return in_features - n_outliers; }
  BinaryLayerView view() const;
  // Every byte the layer occupies: tiles (padding rows included) + permutation.
  int64_t bytes() const { return int64_t(tiles.size()) + int64_t(perm.size()) * 4; }
  double bits_per_weight() const {
    return 8.0 * double(bytes()) / (double(out_features) * in_features);
  }
  // Byte offset in `tiles` of the tile holding row j (row j is lane j % 8 of it).
  int64_t tile_offset(int j) const { return int64_t(j / kTileRows) * tile_stride; }
  const TileHeader& tile_header(int j) const {
    return *reinterpret_cast<const TileHeader*>(tiles.data() + tile_offset(j));
  }
};

// Packs a quantizer layer. Fails (naming the field) on inconsistent sizes, bits other than 0/1,
// or lo/d/outlier scales that are not exactly representable in FP16.
PackedBinaryLinear pack(const BinaryLinearParams& p);
// The same with the sign and bitmap bits given packed LSB first (the .binq "u1" layout: bit
// e = row e / binary_width, channel e % binary_width) and p.sign, p.bitmap left empty: loading
// a .binq file never holds a byte per bit (2 bytes per weight) in between.
PackedBinaryLinear pack(const BinaryLinearParams& p, std::span<const uint8_t> sign_bits,
                        std::span<const uint8_t> bitmap_bits);
// Inverse of pack (bit-exact): the round trip returns the same params.
BinaryLinearParams unpack(const PackedBinaryLinear& w);
// Dequantized weights [out x in] with columns in PERMUTED order (outliers last), as floats:
// w = lo_s + d_s q for binary columns, scale * q for outliers.
std::vector<float> dequantize_permuted(const PackedBinaryLinear& w);

// y [n_tokens x out] = W x for activations quantized with the layer's perm / K / block size.
// table: nullptr = active ISA. Parallel over row tiles with OpenMP. The bitwise kernels compute
// each output exactly or in double and round it once. With BINQ_PREFILL=sgemm (opt-in), a batch
// of at least the table's sgemm_from_tokens tokens (AVX2: 32) runs binary_sgemm instead: faster
// prefill on AVX2, but float accumulation moves outputs by ~1e-6 of their magnitude, enough to flip
// 4-bit activation codes downstream (stories260K perplexity 52.457 -> 52.570, docs/format.md).
void binary_gemm(const PackedBinaryLinear& w, const QuantizedActs& x, float* y,
                 const KernelTable* table = nullptr);
// ys[i] [n_tokens x ws[i]->out_features] = W_i x for layers that read the same quantized input
// (q/k/v, gate/up), in one OpenMP region over the tiles of all of them.
void binary_gemm_group(std::span<const PackedBinaryLinear* const> ws, const QuantizedActs& x,
                       std::span<float* const> ys, const KernelTable* table = nullptr);
// The sgemm route of binary_gemm_group, for one layer: the table's dequant_rows unpacks slabs of
// rows into floats and cblas_sgemm multiplies them by xhat = dequantize_acts(x). Same weights and
// activations as the simulated path, float accumulation (about 1e-6 of the magnitude).
void binary_sgemm(const PackedBinaryLinear& w, const float* xhat, int n_tokens, float* y, const KernelTable& table);
// The activations as the kernels see them, [n_tokens x width] in permuted order: m_c + sum_a m_a b_a
// for binary channels (summed in double, rounded once), outlier_scale * q for the outliers.
std::vector<float> dequantize_acts(const QuantizedActs& x);
// Whether binary_gemm_group takes the sgemm route for n tokens on `table` (BINQ_PREFILL unset or
// bitwise: never; sgemm: from table.sgemm_from_tokens; anything else is an error).
bool use_sgemm_route(const KernelTable& table, int n_tokens);
// Integer parts (see BinaryCountsFn) for exact cross-ISA checks.
void binary_int_parts(const PackedBinaryLinear& w, const QuantizedActs& x,
                      std::vector<int32_t>& counts, std::vector<int32_t>& odot,
                      const KernelTable* table = nullptr);
// Magnitude bound for float tolerances: mag[t*out + j] = sum over the terms the kernel adds of
// their absolute values (|params| x counts x |m|, |m_c rowsum|, |outlier product|). A correct
// kernel is within ~(terms) * eps * mag of the exact value; tests use 1e-5 * mag.
std::vector<double> binary_magnitudes(const PackedBinaryLinear& w, const QuantizedActs& x);

}  // namespace binq
