#include "binq/model/linear.h"

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>

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

void Fp16Linear::forward(const float* x, int n, float* y) const {
  // Few tokens (decode): the FP16 kernel reads each weight once, which is what bounds it. Many
  // tokens (perplexity's all-logits windows, long prompts): that kernel widens every weight again
  // per token and is compute bound, so each thread widens blocks of rows to FP32 once and hands
  // them to OpenBLAS (single-threaded inside our parallel loop). kernels_bench Fp16Head, 32000x2048,
  // 1 thread: n = 8 27 ms either way; n = 32 78 -> 53 ms; n = 128 316 -> 160 ms.
  constexpr int kSgemmTokens = 16;
  if (n < kSgemmTokens) return fp16_matmul(w_.data(), out_, in_, x, n, y);
  const int rows_per_block = std::max(64, (1 << 18) / in_);  // 1 MB of FP32 per thread
#pragma omp parallel
  {
    std::vector<float> wf(size_t(rows_per_block) * in_);
#pragma omp for schedule(dynamic, 1)
    for (int r0 = 0; r0 < out_; r0 += rows_per_block) {
      const int rows = std::min(rows_per_block, out_ - r0);
      fp16_to_f32(w_.data() + size_t(r0) * in_, int64_t(rows) * in_, wf.data());
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, rows, in_, 1.0f, x, in_, wf.data(), in_, 0.0f,
                  y + r0, out_);
    }
  }
}

std::string Fp16Linear::describe() const { return fmt::format("fp16 [{} x {}]", out_, in_); }

}  // namespace binq
