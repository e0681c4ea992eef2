// Synthetic layers shared by the quant tests: correlated calibration inputs with channel scales
// that differ by orders of magnitude (like real LLM activations), so that reordering, outliers
// and GPTQ compensation all matter.
#pragma once
#include <cmath>
#include <random>
#include <vector>

#include "binq/quant/hessian.h"

namespace binq::test {

struct SyntheticLayer {
  int out = 0, in = 0, n_tokens = 0;
  std::vector<float> W;  // [out x in]
  std::vector<float> X;  // [n_tokens x in]
  std::vector<double> H; // finalized (2/N) X^T X
};

// x = A z (rank-`rank` correlation) + small noise, then each channel scaled by exp(N(0, 1))
// with a few channels 10x larger (activation outliers). W is Gaussian with random row scales.
inline SyntheticLayer make_layer(int out, int in, int n_tokens, unsigned seed, int rank = 16) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  SyntheticLayer L;
  L.out = out, L.in = in, L.n_tokens = n_tokens;
  std::vector<float> A(size_t(in) * rank), scale(in);
  for (auto& a : A) a = g(rng);
  for (int c = 0; c < in; ++c) scale[c] = std::exp(0.8f * g(rng)) * (c % 37 == 5 ? 10.0f : 1.0f);
  L.X.resize(size_t(n_tokens) * in);
  std::vector<float> z(rank);
  for (int t = 0; t < n_tokens; ++t) {
    for (auto& v : z) v = g(rng);
    for (int c = 0; c < in; ++c) {
      float v = 0.3f * g(rng);
      for (int r = 0; r < rank; ++r) v += A[size_t(c) * rank + r] * z[r] / std::sqrt(float(rank));
      L.X[size_t(t) * in + c] = v * scale[c];
    }
  }
  L.W.resize(size_t(out) * in);
  for (int j = 0; j < out; ++j) {
    const float rs = 0.02f * std::exp(0.3f * g(rng));
    for (int c = 0; c < in; ++c) L.W[size_t(j) * in + c] = rs * g(rng);
  }
  HessianAccumulator acc(in);
  acc.add(L.X.data(), n_tokens);
  L.H = acc.finalize();
  return L;
}

// Output error on the calibration set, sum_t ||(W - Q) x_t||^2 / N = 0.5 sum_j d_j H d_j^T.
inline double output_error(const SyntheticLayer& L, const std::vector<float>& Q) {
  double total = 0;
  std::vector<double> d(L.in);
  for (int j = 0; j < L.out; ++j) {
    for (int c = 0; c < L.in; ++c) d[c] = double(L.W[size_t(j) * L.in + c]) - Q[size_t(j) * L.in + c];
    for (int a = 0; a < L.in; ++a) {
      double s = 0;
      const double* h = L.H.data() + size_t(a) * L.in;
      for (int b = 0; b < L.in; ++b) s += h[b] * d[b];
      total += d[a] * s;
    }
  }
  return 0.5 * total;
}

}  // namespace binq::test
