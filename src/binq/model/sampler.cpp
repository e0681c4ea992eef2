#include "binq/model/sampler.h"

#include <algorithm>
#include <cmath>

#include "binq/core/error.h"

namespace binq {

int argmax(const float* v, int n) { return int(std::max_element(v, v + n) - v); }

Sampler::Sampler(float temperature, float top_p, uint64_t seed)
    : temperature_(temperature), top_p_(top_p), rng_(seed) {
  if (!(temperature >= 0)) fail("--temp must be >= 0 (got {})", temperature);
  if (!(top_p > 0 && top_p <= 1)) fail("--top-p must be in (0, 1] (got {})", top_p);
}

int Sampler::sample(const float* logits, int vocab) {
  if (temperature_ == 0) return argmax(logits, vocab);
  const float mx = logits[argmax(logits, vocab)];
  probs_.resize(vocab);
  double sum = 0;
  for (int i = 0; i < vocab; ++i) {
    float p = std::exp((logits[i] - mx) / temperature_);
    probs_[i] = {p, i};
    sum += p;
  }
  // Nucleus: the smallest set of most likely tokens whose mass reaches top_p.
  size_t keep = probs_.size();
  double mass = sum;
  if (top_p_ < 1) {
    std::sort(probs_.begin(), probs_.end(), [](auto& a, auto& b) { return a.first > b.first; });
    double acc = 0;
    for (size_t i = 0; i < probs_.size(); ++i) {
      acc += probs_[i].first;
      if (acc >= top_p_ * sum) {
        keep = i + 1;
        break;
      }
    }
    mass = acc;
  }
  double r = std::uniform_real_distribution<double>(0.0, mass)(rng_);
  double acc = 0;
  for (size_t i = 0; i < keep; ++i) {
    acc += probs_[i].first;
    if (r < acc) return probs_[i].second;
  }
  return probs_[keep - 1].second;
}

}  // namespace binq
