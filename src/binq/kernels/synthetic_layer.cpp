#include "binq/kernels/synthetic_layer.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "binq/core/error.h"
#include "binq/core/half.h"

namespace binq {

BinaryLinearParams random_binary_layer(int out, int in, int n_outliers, int block_size, uint64_t seed) {
  if (out <= 0 || in <= 0 || n_outliers < 0 || n_outliers > in || block_size <= 0)
    fail("random_binary_layer: bad shape {}x{} K={} B={}", out, in, n_outliers, block_size);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  BinaryLinearParams p;
  p.out_features = out;
  p.in_features = in;
  p.n_outliers = n_outliers;
  p.block_size = block_size;
  p.perm.resize(in);
  std::iota(p.perm.begin(), p.perm.end(), 0);
  std::shuffle(p.perm.begin(), p.perm.end(), rng);
  const int bw = p.binary_width(), nb = p.n_blocks();
  p.sign.resize(size_t(out) * bw);
  p.bitmap.resize(size_t(out) * bw);
  // 64 random bits per draw: layers of 7B shapes have ~10^8 weights.
  for (auto* bits : {&p.sign, &p.bitmap})
    for (size_t i = 0; i < bits->size(); i += 64) {
      uint64_t r = rng();
      for (size_t b = 0; b < 64 && i + b < bits->size(); ++b) (*bits)[i + b] = uint8_t((r >> b) & 1);
    }
  for (auto* v : {&p.lo0, &p.d0, &p.lo1, &p.d1}) {
    v->resize(size_t(out) * nb);
    for (auto& f : *v) f = round_to_fp16(0.05f * nd(rng));
  }
  p.outlier_w.resize(size_t(out) * n_outliers);
  for (auto& v : p.outlier_w) v = int8_t(int(rng() % 255) - 127);
  p.outlier_scale.resize(out);
  for (auto& f : p.outlier_scale) f = round_to_fp16(0.001f + 0.01f * std::fabs(nd(rng)));
  return p;
}

}  // namespace binq
