// Linear-layer adapters for W(1+1)A(1x4) layers (owned by the kernels engineer; see
// src/binq/kernels/ and docs/format.md):
//   BitwiseLinear           packed layer + activation quantizer -> AND/popcount kernels (run time).
//   SimulatedBinaryLinear   the same arithmetic in floats: dequantized weights (permuted order) times
//                           fake-quantized activations. Tests check BitwiseLinear == Simulated.
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
  std::string describe() const override;
  const PackedBinaryLinear& packed() const { return w_; }
  const ActQuantConfig& act_config() const { return cfg_; }

 private:
  PackedBinaryLinear w_;
  ActQuantConfig cfg_;
};

class SimulatedBinaryLinear : public Linear {
 public:
  SimulatedBinaryLinear(const BinaryLinearParams& p, const ActQuantConfig& cfg);
  int in_features() const override { return in_; }
  int out_features() const override { return out_; }
  void forward(const float* x, int n, float* y) const override;
  std::string describe() const override;

 private:
  int out_, in_, K_;
  std::vector<int32_t> perm_;
  std::vector<float> w_;  // [out x in], permuted column order
  ActQuantConfig cfg_;
};

}  // namespace binq
