#include "binq/kernels/int8_linear.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "binq/core/error.h"
#include "binq/kernels/dispatch.h"

namespace binq {
namespace {

float quantize_row(const float* x, int n, int8_t* q) {
  float amax = 0;
  for (int i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  if (!std::isfinite(amax)) fail("int8 quantization: non-finite value");
  if (amax == 0) {
    std::fill(q, q + n, int8_t(0));
    return 0;
  }
  const float s = amax / 127.0f;
  for (int i = 0; i < n; ++i) q[i] = int8_t(std::clamp(std::nearbyint(x[i] / s), -127.0f, 127.0f));
  return s;
}

template <typename F>
void parallel_rows(int out, int64_t work, F&& f) {
#pragma omp parallel if (work > (int64_t(1) << 16) && out >= 8)
  {
    const int nt = omp_get_num_threads(), id = omp_get_thread_num();
    const int per = ((out + nt - 1) / nt + 3) / 4 * 4;
    const int r0 = std::min(out, id * per), r1 = std::min(out, r0 + per);
    if (r0 < r1) f(r0, r1);
  }
}

}  // namespace

Int8Linear quantize_int8_linear(const float* w, int out, int in) {
  if (out <= 0 || in <= 0) fail("quantize_int8_linear: bad shape {}x{}", out, in);
  Int8Linear r;
  r.out_features = out;
  r.in_features = in;
  r.ld = (in + 63) / 64 * 64;
  r.w.assign(size_t(out) * r.ld, 0);
  r.scale.resize(out);
  r.wsum.resize(out);
  for (int j = 0; j < out; ++j) {
    int8_t* q = r.w.data() + size_t(j) * r.ld;
    r.scale[j] = quantize_row(w + size_t(j) * in, in, q);
    int32_t s = 0;
    for (int k = 0; k < in; ++k) s += q[k];
    r.wsum[j] = s;
  }
  return r;
}

void quantize_int8_acts(const float* x, int n, int in, Int8Acts& out) {
  out.n_tokens = n;
  out.in_features = in;
  out.ld = (in + 63) / 64 * 64;
  out.q.assign(size_t(n) * out.ld, 0);
  out.scale.resize(n);
  for (int t = 0; t < n; ++t) out.scale[t] = quantize_row(x + size_t(t) * in, in, out.q.data() + size_t(t) * out.ld);
}

void int8_int_dots(const Int8Linear& w, const Int8Acts& x, std::vector<int32_t>& out,
                   const KernelTable* table) {
  if (x.ld != w.ld) fail("int8_gemm: activations have {} features, layer {}", x.in_features, w.in_features);
  const KernelTable& kt = table ? *table : kernel_table();
  out.resize(size_t(x.n_tokens) * w.out_features);
  parallel_rows(w.out_features, int64_t(w.out_features) * w.ld * x.n_tokens, [&](int r0, int r1) {
    kt.int8_dot(w.w.data(), w.wsum.data(), w.out_features, w.ld, x.q.data(), x.n_tokens, r0, r1, out.data());
  });
}

void int8_gemm(const Int8Linear& w, const Int8Acts& x, float* y, const KernelTable* table) {
  if (x.ld != w.ld) fail("int8_gemm: activations have {} features, layer {}", x.in_features, w.in_features);
  const KernelTable& kt = table ? *table : kernel_table();
  const int out = w.out_features;
  // Integer results land in y's storage (int32 and float have the same size), then scale in place.
  int32_t* acc = reinterpret_cast<int32_t*>(y);
  parallel_rows(out, int64_t(out) * w.ld * x.n_tokens, [&](int r0, int r1) {
    kt.int8_dot(w.w.data(), w.wsum.data(), out, w.ld, x.q.data(), x.n_tokens, r0, r1, acc);
    for (int t = 0; t < x.n_tokens; ++t)
      for (int j = r0; j < r1; ++j) {
        const int64_t i = int64_t(t) * out + j;
        y[i] = float(acc[i]) * w.scale[j] * x.scale[t];
      }
  });
}

}  // namespace binq
