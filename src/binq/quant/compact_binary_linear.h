// A W(1+1) layer in the form a .binq file stores it (docs/format.md): sign and bitmap bits packed
// eight to a byte, the four parameter planes and the outlier scales as FP16 bits. About 2.7
// bits per weight instead of the 16+ of BinaryLinearParams (one byte per bit): the form in which
// QuantizedModel keeps every layer of a model, so that a quantized 1B model fits next to the one
// block being quantized. Lossless: unpack() returns exactly the params it was made from.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "binq/quant/binary_layer.h"

namespace binq {

struct CompactBinaryLinear {
  int out_features = 0;
  int in_features = 0;
  int n_outliers = 0;                  // K
  int block_size = 0;                  // B
  std::vector<int32_t> perm;           // [in]
  std::vector<uint8_t> sign;           // [ceil(out * (in - K) / 8)], bit e at byte e/8, bit e%8
  std::vector<uint8_t> bitmap;         // same layout
  std::vector<uint16_t> params;        // FP16 [4 x out x n_blocks]: lo0, d0, lo1, d1
  std::vector<int8_t> outlier_w;       // [out x K]
  std::vector<uint16_t> outlier_scale; // FP16 [out]

  CompactBinaryLinear() = default;
  // Fails (via p.validate) if p is inconsistent or a parameter is not exactly FP16.
  explicit CompactBinaryLinear(const BinaryLinearParams& p);
  BinaryLinearParams unpack() const;
  // unpack() without sign and bitmap (left empty): for pack(params, sign, bitmap).
  BinaryLinearParams unpack_params() const;

  int binary_width() const { return in_features - n_outliers; }
  int n_blocks() const { return binary_width() > 0 ? (binary_width() + block_size - 1) / block_size : 0; }
  bool bitmap_used() const;  // any bitmap bit set (else the layer is the 1-bit format)
  // Sizes, permutation, finite parameters, INT8 range; fails naming `name`.
  void validate(const char* name) const;
};

// Bits of a 0/1 byte array packed LSB first (the .binq "u1" layout), and back.
std::vector<uint8_t> pack_bits(const std::vector<uint8_t>& bits);
std::vector<uint8_t> unpack_bits(const uint8_t* packed, size_t n);

}  // namespace binq
