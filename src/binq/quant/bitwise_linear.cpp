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
  const Linear* self = this;
  forward_group(x, n, {&self, 1}, {&y, 1});
}

bool BitwiseLinear::can_share_input(const Linear& other) const {
  const auto* o = dynamic_cast<const BitwiseLinear*>(&other);
  return o && o->w_.in_features == w_.in_features && o->w_.n_outliers == w_.n_outliers &&
         o->w_.block_size == w_.block_size && o->cfg_.bits == cfg_.bits && o->cfg_.balance == cfg_.balance &&
         o->cfg_.outlier_bits == cfg_.outlier_bits && o->w_.perm == w_.perm;
}

void BitwiseLinear::forward_group(const float* x, int n, std::span<const Linear* const> group,
                                  std::span<float* const> ys) const {
  check_group(group, ys);
  // Decode quantizes ~100 inputs per token: one buffer per thread saves their allocations.
  // Longer inputs (prefill, calibration) use their own, so that no thread keeps a large one.
  constexpr int kReusedTokens = 16;
  thread_local QuantizedActs reused;
  QuantizedActs own;
  QuantizedActs& qa = n <= kReusedTokens ? reused : own;
  quantize_activations(x, n, w_.in_features, w_.perm.data(), w_.n_outliers, w_.block_size, cfg_, qa);
  std::vector<const PackedBinaryLinear*> ws;
  for (size_t i = 0; i < group.size(); ++i) {
    const auto* lin = dynamic_cast<const BitwiseLinear*>(group[i]);
    if (!lin) fail("BitwiseLinear::forward_group: member {} is {}", i, group[i]->describe());
    ws.push_back(&lin->w_);
  }
  binary_gemm_group(ws, qa, ys);
}

std::string BitwiseLinear::describe() const {
  return fmt::format("bitwise W(1+1)A(1x4) {}x{} B={} K={} balance={} {:.3f} bits/weight [{}]",
                     w_.out_features, w_.in_features, w_.block_size, w_.n_outliers,
                     balance_name(cfg_.balance), w_.bits_per_weight(), isa_name(active_isa()));
}

}  // namespace binq
