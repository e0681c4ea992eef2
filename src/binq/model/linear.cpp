#include "binq/model/linear.h"

#include <cblas.h>
#include <fmt/format.h>

namespace binq {

void DenseLinear::forward(const float* x, int n, float* y) const {
  if (n == 1) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, w_.rows, w_.cols, 1.0f, w_.data, w_.cols, x, 1, 0.0f, y, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, w_.rows, w_.cols, 1.0f, x, w_.cols,
                w_.data, w_.cols, 0.0f, y, w_.rows);
  }
}

std::string DenseLinear::describe() const { return fmt::format("fp32 [{} x {}]", w_.rows, w_.cols); }

}  // namespace binq
