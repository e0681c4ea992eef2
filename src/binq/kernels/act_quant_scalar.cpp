// Scalar activation-quantizer loops: the reference the SIMD versions must match bit for bit
// (and the path of CPUs without AVX2).
#include <algorithm>
#include <bit>
#include <cmath>

#include "binq/kernels/act_quant.h"
#include "binq/kernels/act_quant_kernels.h"

namespace binq {
namespace {

void gather(const float* x, const int32_t* perm, int n, float* out) {
  for (int i = 0; i < n; ++i) out[i] = x[perm[i]];
}

bool min_max(const float* x, int n, float* lo, float* hi) {
  float l = x[0], h = x[0];
  bool nan = std::isnan(x[0]);
  for (int i = 1; i < n; ++i) {
    l = std::min(l, x[i]);
    h = std::max(h, x[i]);
    nan |= std::isnan(x[i]);
  }
  *lo = l;
  *hi = h;
  return !nan;
}

void codes(const float* x, int n, float mu, float zf, int levels, uint8_t* xq) {
  for (int i = 0; i < n; ++i) {
    const float r = std::clamp(std::nearbyint(x[i] / mu) + zf, 0.0f, float(levels));
    xq[i] = static_cast<uint8_t>(static_cast<int>(r));
  }
}

void code_counts(const uint8_t* xq, int n, int levels, int32_t* cnt) {
  std::fill(cnt, cnt + levels + 1, 0);
  for (int i = 0; i < n; ++i) ++cnt[xq[i]];
}

void bit_planes(const uint8_t* xq, int n, int n_planes, uint64_t* words, int32_t* pop) {
  std::fill(pop, pop + n_planes, 0);
  for (int w = 0; w * 64 < n; ++w)
    for (int a = 0; a < n_planes; ++a) {
      const uint64_t v = gather_bit(xq + 64 * w, std::min(64, n - 64 * w), a);
      words[w * n_planes + a] = v;
      pop[a] += std::popcount(v);
    }
}

void outlier_codes(const float* x, int n, float s, int qmax, int8_t* q) {
  for (int i = 0; i < n; ++i)
    q[i] = static_cast<int8_t>(std::clamp(std::nearbyint(x[i] / s), float(-qmax), float(qmax)));
}

constexpr ActQuantKernels kKernels = {"scalar", gather, min_max, codes, code_counts, bit_planes, outlier_codes};

}  // namespace

const ActQuantKernels& detail::act_quant_scalar() { return kKernels; }

}  // namespace binq
