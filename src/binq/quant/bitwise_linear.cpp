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

}  // namespace binq
