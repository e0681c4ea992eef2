// The seam between the transformer and the arithmetic of its linear layers. The model calls
// Linear::forward for all seven projections of every block; quantizers replace a layer by
// swapping in another implementation (LlamaModel::set_linear) and observe inputs via hooks.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "binq/model/weights.h"

namespace binq {

class Linear {
 public:
  virtual ~Linear() = default;
  virtual int in_features() const = 0;
  virtual int out_features() const = 0;
  // y[n x out] = x[n x in] * W^T, row-major. x and y never alias. May use OpenMP inside.
  virtual void forward(const float* x, int n, float* y) const = 0;
  virtual std::string describe() const = 0;
};

// FP32 weights through BLAS (sgemm for n > 1, sgemv for n == 1). Does not own the weights.
class DenseLinear : public Linear {
 public:
  explicit DenseLinear(MatrixView w) : w_(w) {}
  int in_features() const override { return w_.cols; }
  int out_features() const override { return w_.rows; }
  void forward(const float* x, int n, float* y) const override;
  std::string describe() const override;
  const MatrixView& weight() const { return w_; }

 private:
  MatrixView w_;
};

// FP16 weights [out x in] owned here, FP32 arithmetic (F16C widening): the output head of
// quantized models.
class Fp16Linear : public Linear {
 public:
  Fp16Linear(std::vector<uint16_t> w, int out, int in);
  int in_features() const override { return in_; }
  int out_features() const override { return out_; }
  void forward(const float* x, int n, float* y) const override;
  std::string describe() const override;

 private:
  std::vector<uint16_t> w_;
  int out_, in_;
};

// Identifies one linear layer of the model.
struct LinearId {
  int layer = 0;
  LinearKind kind = LinearKind::Q;
};

// Called with the input of a linear layer before it runs: x is [n x in_features] row-major.
// q/k/v see the same input (and so do gate/up); the hook is called once per linear.
using LinearInputHook = std::function<void(LinearId id, const float* x, int n, int in_features)>;

}  // namespace binq
