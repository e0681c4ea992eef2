// The simulated ("fake-quantized") form of a quantized linear layer: dequantized weights in
// permuted column order times activations quantized-then-dequantized by the same activation
// quantizer the bitwise kernels use, through BLAS. Used for calibration, for the baselines and
// for `--simulate`, so every number it produces is reproducible by the packed runtime.
#pragma once
#include <vector>

#include "binq/kernels/act_quant.h"
#include "binq/model/linear.h"
#include "binq/quant/binary_layer.h"

namespace binq {

class FakeQuantLinear : public Linear {
 public:
  // weight: [out x in], columns in PERMUTED order (x_perm[i] = x[perm[i]]); the last
  // n_outliers permuted channels get INT8-style activations. quantize_acts false = A16.
  FakeQuantLinear(std::vector<float> weight, int out, int in, std::vector<int32_t> perm, int n_outliers,
                  bool quantize_acts, const ActQuantConfig& cfg, std::string label);
  int in_features() const override { return in_; }
  int out_features() const override { return out_; }
  void forward(const float* x, int n, float* y) const override;
  std::string describe() const override { return label_; }

 private:
  std::vector<float> w_;
  int out_, in_;
  std::vector<int32_t> perm_;
  int n_outliers_;
  bool quantize_acts_;
  ActQuantConfig cfg_;
  std::string label_;
};

// The simulated form of a W(1+1) layer, computed to double precision: weights lo_s + d_s q and
// outliers scale * q exactly in double, activations rebuilt from the very same 4-bit codes,
// plane scales and INT8 outliers that the bitwise kernels consume (quantize_token), then dgemm.
// Both paths then approximate one exact real number to ~1e-15, so their float outputs agree and
// the discontinuous activation/KV rounding downstream makes the same decisions.
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
  std::vector<double> w_;  // [out x in], permuted column order
  ActQuantConfig cfg_;
};

}  // namespace binq
