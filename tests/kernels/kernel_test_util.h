// Random layers / activations shared by the kernel tests.
#pragma once
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "binq/core/half.h"
#include "binq/quant/binary_layer.h"

namespace binq::test {

inline BinaryLinearParams random_layer(int out, int in, int K, int B, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_int_distribution<int> bit(0, 1), i8(-128, 127);
  BinaryLinearParams p;
  p.out_features = out;
  p.in_features = in;
  p.n_outliers = K;
  p.block_size = B;
  p.perm.resize(in);
  std::iota(p.perm.begin(), p.perm.end(), 0);
  std::shuffle(p.perm.begin(), p.perm.end(), rng);
  const int bw = in - K, nb = bw > 0 ? (bw + B - 1) / B : 0;
  p.sign.resize(size_t(out) * bw);
  p.bitmap.resize(size_t(out) * bw);
  for (auto& v : p.sign) v = uint8_t(bit(rng));
  for (auto& v : p.bitmap) v = uint8_t(bit(rng));
  for (auto* v : {&p.lo0, &p.d0, &p.lo1, &p.d1}) {
    v->resize(size_t(out) * nb);
    for (auto& f : *v) f = round_to_fp16(0.05f * nd(rng));
  }
  p.outlier_w.resize(size_t(out) * K);
  for (auto& v : p.outlier_w) v = int8_t(i8(rng));
  p.outlier_scale.resize(out);
  for (auto& f : p.outlier_scale) f = round_to_fp16(0.001f + 0.01f * std::fabs(nd(rng)));
  return p;
}

// Activations with a few large channels (like LLM hidden states).
inline std::vector<float> random_acts(int n, int width, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(size_t(n) * width);
  for (int i = 0; i < n * width; ++i) {
    x[i] = nd(rng);
    if (i % 37 == 5) x[i] *= 20.0f;
  }
  return x;
}

}  // namespace binq::test
