// Random layers / activations shared by the kernel tests.
#pragma once
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "binq/core/half.h"
#include "binq/kernels/synthetic_layer.h"
#include "binq/quant/binary_layer.h"

namespace binq::test {

inline BinaryLinearParams random_layer(int out, int in, int K, int B, uint32_t seed) {
  return random_binary_layer(out, in, K, B, seed);
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
