#include "binq/quant/binary_layer.h"

#include <cmath>

#include "binq/core/error.h"
#include "binq/core/half.h"

namespace binq {

std::vector<float> BinaryLinearParams::dequantize() const {
  validate("BinaryLinearParams::dequantize");
  const int bw = binary_width(), nb = n_blocks(), K = n_outliers, in = in_features;
  std::vector<float> W(size_t(out_features) * in);
  for (int j = 0; j < out_features; ++j) {
    float* row = W.data() + size_t(j) * in;
    for (int c = 0; c < bw; ++c) {
      const size_t e = size_t(j) * bw + c, pb = size_t(j) * nb + c / block_size;
      // Same float expression as GroupParams::value, so the quantizer's rounding decisions and
      // this decode agree bit for bit.
      const float q = float(sign[e]);
      row[perm[c]] = bitmap[e] ? lo1[pb] + d1[pb] * q : lo0[pb] + d0[pb] * q;
    }
    for (int c = bw; c < in; ++c)
      row[perm[c]] = outlier_scale[j] * float(outlier_w[size_t(j) * K + (c - bw)]);
  }
  return W;
}

void BinaryLinearParams::validate(const char* name) const {
  if (out_features <= 0 || in_features <= 0)
    fail("{}: bad shape {}x{}", name, out_features, in_features);
  if (n_outliers < 0 || n_outliers > in_features)
    fail("{}: n_outliers {} not in 0..{}", name, n_outliers, in_features);
  if (block_size <= 0) fail("{}: block_size must be positive, got {}", name, block_size);
  const size_t out = size_t(out_features), bw = size_t(binary_width()),
               nb = bw > 0 ? size_t(n_blocks()) : 0, K = size_t(n_outliers);
  auto expect = [&](const char* what, size_t got, size_t want) {
    if (got != want) fail("{}: {} has {} entries, expected {}", name, what, got, want);
  };
  expect("perm", perm.size(), size_t(in_features));
  expect("sign", sign.size(), out * bw);
  expect("bitmap", bitmap.size(), out * bw);
  expect("lo0", lo0.size(), out * nb);
  expect("d0", d0.size(), out * nb);
  expect("lo1", lo1.size(), out * nb);
  expect("d1", d1.size(), out * nb);
  expect("outlier_w", outlier_w.size(), out * K);
  expect("outlier_scale", outlier_scale.size(), out);

  std::vector<uint8_t> seen(in_features, 0);
  for (size_t i = 0; i < perm.size(); ++i) {
    const int32_t v = perm[i];
    if (v < 0 || v >= in_features || seen[v]++)
      fail("{}: perm is not a permutation (entry {} = {})", name, i, v);
  }
  for (size_t i = 0; i < sign.size(); ++i)
    if (sign[i] > 1 || bitmap[i] > 1)
      fail("{}: sign/bitmap must be 0/1 (element {}: {}, {})", name, i, sign[i], bitmap[i]);
  auto fp16_exact = [&](const char* what, const std::vector<float>& v) {
    for (size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i]) || round_to_fp16(v[i]) != v[i])
        fail("{}: {}[{}] = {} is not a finite FP16 value", name, what, i, v[i]);
  };
  fp16_exact("lo0", lo0);
  fp16_exact("d0", d0);
  fp16_exact("lo1", lo1);
  fp16_exact("d1", d1);
  fp16_exact("outlier_scale", outlier_scale);
  // -128 is excluded: symmetric INT8 uses -127..127 so that negation is exact.
  for (size_t i = 0; i < outlier_w.size(); ++i)
    if (outlier_w[i] == -128) fail("{}: outlier_w[{}] is -128 (symmetric INT8 range)", name, i);
}

}  // namespace binq
