#include "binq/quant/compact_binary_linear.h"

#include "binq/core/error.h"
#include "binq/core/half.h"

namespace binq {

std::vector<uint8_t> pack_bits(const std::vector<uint8_t>& bits) {
  std::vector<uint8_t> out((bits.size() + 7) / 8, 0);
  for (size_t i = 0; i < bits.size(); ++i) out[i / 8] |= uint8_t((bits[i] & 1) << (i % 8));
  return out;
}

std::vector<uint8_t> unpack_bits(const uint8_t* packed, size_t n) {
  std::vector<uint8_t> bits(n);
  for (size_t i = 0; i < n; ++i) bits[i] = (packed[i / 8] >> (i % 8)) & 1;
  return bits;
}

namespace {

std::vector<uint16_t> to_fp16_bits(const std::vector<float>& x) {
  std::vector<uint16_t> h(x.size());
  for (size_t i = 0; i < x.size(); ++i) h[i] = float_to_fp16(x[i]);
  return h;
}

std::vector<float> from_fp16_bits(const uint16_t* h, size_t n) {
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = fp16_to_float(h[i]);
  return x;
}

}  // namespace

CompactBinaryLinear::CompactBinaryLinear(const BinaryLinearParams& p)
    : out_features(p.out_features),
      in_features(p.in_features),
      n_outliers(p.n_outliers),
      block_size(p.block_size),
      perm(p.perm),
      sign(pack_bits(p.sign)),
      bitmap(pack_bits(p.bitmap)),
      outlier_w(p.outlier_w),
      outlier_scale(to_fp16_bits(p.outlier_scale)) {
  // FP16-exact parameters (checked here) make the FP16 bits a lossless encoding.
  p.validate("CompactBinaryLinear");
  params.reserve(4 * p.lo0.size());
  for (const auto* v : {&p.lo0, &p.d0, &p.lo1, &p.d1})
    for (float x : *v) params.push_back(float_to_fp16(x));
}

BinaryLinearParams CompactBinaryLinear::unpack() const {
  BinaryLinearParams p = unpack_params();
  const size_t bits = size_t(out_features) * binary_width();
  p.sign = unpack_bits(sign.data(), bits);
  p.bitmap = unpack_bits(bitmap.data(), bits);
  return p;
}

BinaryLinearParams CompactBinaryLinear::unpack_params() const {
  validate("CompactBinaryLinear::unpack");
  BinaryLinearParams p;
  p.out_features = out_features;
  p.in_features = in_features;
  p.n_outliers = n_outliers;
  p.block_size = block_size;
  p.perm = perm;
  const size_t plane = size_t(out_features) * n_blocks();
  p.lo0 = from_fp16_bits(params.data(), plane);
  p.d0 = from_fp16_bits(params.data() + plane, plane);
  p.lo1 = from_fp16_bits(params.data() + 2 * plane, plane);
  p.d1 = from_fp16_bits(params.data() + 3 * plane, plane);
  p.outlier_w = outlier_w;
  p.outlier_scale = from_fp16_bits(outlier_scale.data(), outlier_scale.size());
  return p;
}

bool CompactBinaryLinear::bitmap_used() const {
  for (uint8_t b : bitmap)
    if (b) return true;
  return false;
}

void CompactBinaryLinear::validate(const char* name) const {
  if (out_features <= 0 || in_features <= 0) fail("{}: bad shape {}x{}", name, out_features, in_features);
  if (n_outliers < 0 || n_outliers > in_features) fail("{}: n_outliers {} not in 0..{}", name, n_outliers, in_features);
  if (block_size <= 0) fail("{}: block_size must be positive, got {}", name, block_size);
  const size_t out = size_t(out_features), bits = out * size_t(binary_width());
  auto expect = [&](const char* what, size_t got, size_t want) {
    if (got != want) fail("{}: {} has {} entries, expected {}", name, what, got, want);
  };
  expect("perm", perm.size(), size_t(in_features));
  expect("sign", sign.size(), (bits + 7) / 8);
  expect("bitmap", bitmap.size(), (bits + 7) / 8);
  expect("params", params.size(), 4 * out * size_t(n_blocks()));
  expect("outlier_w", outlier_w.size(), out * size_t(n_outliers));
  expect("outlier_scale", outlier_scale.size(), out);
  std::vector<uint8_t> seen(size_t(in_features), 0);
  for (size_t i = 0; i < perm.size(); ++i) {
    const int32_t v = perm[i];
    if (v < 0 || v >= in_features || seen[size_t(v)]++) fail("{}: perm is not a permutation (entry {} = {})", name, i, v);
  }
  // The value checks of BinaryLinearParams::validate (a corrupt file can hold anything).
  auto finite = [&](const char* what, const std::vector<uint16_t>& v) {
    for (size_t i = 0; i < v.size(); ++i)
      if ((v[i] & 0x7C00) == 0x7C00) fail("{}: {}[{}] is not a finite FP16 value", name, what, i);
  };
  finite("params", params);
  finite("outlier_scale", outlier_scale);
  for (size_t i = 0; i < outlier_w.size(); ++i)
    if (outlier_w[i] == -128) fail("{}: outlier_w[{}] is -128 (symmetric INT8 range)", name, i);
}

}  // namespace binq
