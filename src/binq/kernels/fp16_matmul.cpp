#include "binq/kernels/fp16_matmul.h"

#include "binq/core/half.h"
#include "binq/core/parallel.h"
#include "binq/kernels/dispatch.h"

namespace binq {

namespace detail {
void fp16_matmul_rows_scalar(const uint16_t* w, int cols, const float* x, int n, int rows, int r0, int r1,
                             float* y) {
  for (int j = r0; j < r1; ++j)
    for (int t = 0; t < n; ++t) {
      float s = 0;
      for (int i = 0; i < cols; ++i) s += fp16_to_float(w[int64_t(j) * cols + i]) * x[int64_t(t) * cols + i];
      y[int64_t(t) * rows + j] = s;
    }
}
}  // namespace detail

void fp16_to_f32(const uint16_t* src, int64_t n, float* dst) {
  if (active_isa() != Isa::Scalar) return detail::fp16_to_f32_avx2(src, n, dst);
  for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_float(src[i]);
}

void fp16_matmul(const uint16_t* w, int rows, int cols, const float* x, int n, float* y) {
  auto kernel = active_isa() == Isa::Scalar ? detail::fp16_matmul_rows_scalar : detail::fp16_matmul_rows_avx2;
  for_stolen_ranges(rows, 64, int64_t(rows) * cols > (1 << 20),
                    [&](int64_t r0, int64_t r1) { kernel(w, cols, x, n, rows, int(r0), int(r1), y); });
}

}  // namespace binq
