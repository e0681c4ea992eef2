// The seam between the transformer and the arithmetic of its linear layers. The model calls
// Linear::forward for all seven projections of every block; quantizers replace a layer by
// swapping in another implementation (LlamaModel::set_linear) and observe inputs via hooks.
#pragma once
#include <functional>
#include <memory>
#include <span>
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

  // Linears that read the same activation (q/k/v, gate/up) may share the work that depends on the
  // input alone (BitwiseLinear: one activation quantization). can_share_input says whether
  // `other` may join this linear in forward_group; it must be an equivalence relation. The model
  // asks it once when its linears are set, never per call, so it may be slow (compares perms).
  virtual bool can_share_input(const Linear& other) const {
    (void)other;
    return false;
  }
  // ys[i][n x group[i]->out_features()] = group[i] applied to x, where group[0] == this and
  // can_share_input(*group[i]) holds for every i. The default runs them one by one.
  virtual void forward_group(const float* x, int n, std::span<const Linear* const> group,
                             std::span<float* const> ys) const;

 protected:
  // Fails unless group and ys have the same, non-zero size and group[0] is this linear.
  void check_group(std::span<const Linear* const> group, std::span<float* const> ys) const;
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
