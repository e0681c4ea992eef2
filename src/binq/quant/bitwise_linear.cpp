#include "binq/quant/bitwise_linear.h"

#include <fmt/format.h>

#include "binq/core/error.h"
#include "binq/kernels/dispatch.h"

namespace binq {

BitwiseLinear::BitwiseLinear(PackedBinaryLinear w, const ActQuantConfig& cfg)
    : w_(std::move(w)), cfg_(cfg) {
  if (cfg_.bits != 4) fail("BitwiseLinear: activations must be 4-bit, got {}", cfg_.bits);
}

void BitwiseLinear::forward(const float* x, int n, float* y) const {
  QuantizedActs qa;
  quantize_activations(x, n, w_.in_features, w_.perm.data(), w_.n_outliers, w_.block_size, cfg_, qa);
  binary_gemm(w_, qa, y);
}

std::string BitwiseLinear::describe() const {
  return fmt::format("bitwise W(1+1)A(1x4) {}x{} B={} K={} balance={} {:.3f} bits/weight [{}]",
                     w_.out_features, w_.in_features, w_.block_size, w_.n_outliers,
                     balance_name(cfg_.balance), w_.bits_per_weight(), isa_name(active_isa()));
}

SimulatedBinaryLinear::SimulatedBinaryLinear(const BinaryLinearParams& p, const ActQuantConfig& cfg)
    : out_(p.out_features), in_(p.in_features), K_(p.n_outliers), perm_(p.perm), cfg_(cfg) {
  w_ = dequantize_permuted(pack(p));  // pack validates; dequantization is exact in floats
}

void SimulatedBinaryLinear::forward(const float* x, int n, float* y) const {
  std::vector<float> xh(size_t(n) * in_);
  fake_quantize_activations(x, n, in_, perm_.data(), K_, cfg_, xh.data());
#pragma omp parallel for collapse(2) schedule(static) if (int64_t(n) * out_ * in_ > (1 << 16))
  for (int t = 0; t < n; ++t)
    for (int j = 0; j < out_; ++j) {
      const float* a = xh.data() + size_t(t) * in_;
      const float* b = w_.data() + size_t(j) * in_;
      double s = 0;
      for (int i = 0; i < in_; ++i) s += double(a[i]) * b[i];
      y[size_t(t) * out_ + j] = float(s);
    }
}

std::string SimulatedBinaryLinear::describe() const {
  return fmt::format("simulated W(1+1)A{} {}x{} K={} balance={}", cfg_.bits, out_, in_, K_,
                     balance_name(cfg_.balance));
}

}  // namespace binq
