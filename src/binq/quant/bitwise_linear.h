// The run-time Linear of a W(1+1)A(1x4) layer: packed layer + activation quantizer -> the
// AND/popcount kernels (src/binq/kernels/, docs/format.md). Its simulated counterpart is
// SimulatedBinaryLinear (fake_quant_linear.h); tests check that the two agree.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "binq/kernels/act_quant.h"
#include "binq/kernels/packed_linear.h"
#include "binq/model/linear.h"
#include "binq/quant/binary_layer.h"

namespace binq {

class BitwiseLinear : public Linear {
 public:
  BitwiseLinear(PackedBinaryLinear w, const ActQuantConfig& cfg);
  BitwiseLinear(const BinaryLinearParams& p, const ActQuantConfig& cfg) : BitwiseLinear(pack(p), cfg) {}
  int in_features() const override { return w_.in_features; }
  int out_features() const override { return w_.out_features; }
  // Quantizes x per token (bit-planes + INT8 outliers), then the bitwise GEMV/GEMM (active ISA).
  void forward(const float* x, int n, float* y) const override;
  // Another BitwiseLinear with the same perm, K, block size and activation config: its input
  // quantizes to the very same planes, so a group quantizes once and runs every GEMM on them.
  bool can_share_input(const Linear& other) const override;
  void forward_group(const float* x, int n, std::span<const Linear* const> group,
                     std::span<float* const> ys) const override;
  std::string describe() const override;
  const PackedBinaryLinear& packed() const { return w_; }
  const ActQuantConfig& act_config() const { return cfg_; }

 private:
  PackedBinaryLinear w_;
  ActQuantConfig cfg_;
};


}  // namespace binq
