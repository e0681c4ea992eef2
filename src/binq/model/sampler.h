// Next-token selection: greedy (temperature 0) or temperature + nucleus (top-p) sampling.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace binq {

class Sampler {
 public:
  Sampler(float temperature, float top_p, uint64_t seed);
  int sample(const float* logits, int vocab);

 private:
  float temperature_, top_p_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int>> probs_;
};

int argmax(const float* v, int n);

}  // namespace binq
