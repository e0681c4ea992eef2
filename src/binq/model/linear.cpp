#include "binq/model/linear.h"

#include <cblas.h>
#include <fmt/format.h>

#include "binq/core/error.h"
#include "binq/kernels/fp16_matmul.h"

namespace binq {

void Linear::check_group(std::span<const Linear* const> group, std::span<float* const> ys) const {
  if (group.size() != ys.size() || group.empty() || group[0] != this)
    fail("forward_group: {} linears and {} outputs, or the first linear is not the one called", group.size(),
         ys.size());
}

void Linear::forward_group(const float* x, int n, std::span<const Linear* const> group,
                           std::span<float* const> ys) const {
  check_group(group, ys);
  for (size_t i = 0; i < group.size(); ++i) group[i]->forward(x, n, ys[i]);
}

void DenseLinear::forward(const float* x, int n, float* y) const {
  if (n == 1) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, w_.rows, w_.cols, 1.0f, w_.data, w_.cols, x, 1, 0.0f, y, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, w_.rows, w_.cols, 1.0f, x, w_.cols,
                w_.data, w_.cols, 0.0f, y, w_.rows);
  }
}

std::string DenseLinear::describe() const { return fmt::format("fp32 [{} x {}]", w_.rows, w_.cols); }

Fp16Linear::Fp16Linear(std::vector<uint16_t> w, int out, int in) : w_(std::move(w)), out_(out), in_(in) {
  if (w_.size() != size_t(out) * in) fail("Fp16Linear: {} weights for [{} x {}]", w_.size(), out, in);
}

void Fp16Linear::forward(const float* x, int n, float* y) const { fp16_matmul(w_.data(), out_, in_, x, n, y); }

std::string Fp16Linear::describe() const { return fmt::format("fp16 [{} x {}]", out_, in_); }

}  // namespace binq
