// A W(1+1) linear layer as the quantizer produces it, unpacked (one byte per bit) so algorithms
// and tests can read it directly. kernels/ packs it into the bitwise layout of docs/format.md.
//
// Input channels are first permuted (x_perm[i] = x[perm[i]]), ascending by activation energy.
// The first in - n_outliers permuted channels are binary, split into blocks of block_size
// (the last block may be short); the last n_outliers channels are INT8 outliers.
// Dequantized binary weight of (row j, permuted column c in block l):
//   s = bitmap[j, c], q = sign[j, c]:  w = lo_s[j, l] + d_s[j, l] * q
// Dequantized outlier weight: outlier_scale[j] * outlier_w[j, c - (in - n_outliers)].
#pragma once
#include <cstdint>
#include <vector>

namespace binq {

struct BinaryLinearParams {
  int out_features = 0;
  int in_features = 0;
  int n_outliers = 0;   // K
  int block_size = 0;   // B
  std::vector<int32_t> perm;           // [in]
  std::vector<uint8_t> sign;           // [out x (in - K)], values 0/1  (q)
  std::vector<uint8_t> bitmap;         // [out x (in - K)], values 0/1  (s)
  std::vector<float> lo0, d0, lo1, d1; // [out x n_blocks], each exactly representable in FP16
  std::vector<int8_t> outlier_w;       // [out x K]
  std::vector<float> outlier_scale;    // [out], FP16-representable

  int binary_width() const { return in_features - n_outliers; }
  int n_blocks() const { return (binary_width() + block_size - 1) / block_size; }
  // Dequantized weight in the ORIGINAL (unpermuted) column order: [out x in].
  std::vector<float> dequantize() const;
  // Fails with `name` in the message if sizes or values are inconsistent.
  void validate(const char* name) const;
};

}  // namespace binq
