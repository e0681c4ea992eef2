#include "binq/model/kv_cache.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "binq/core/error.h"

namespace binq {

KVCache::KVCache(const ModelConfig& config, int capacity, int bits)
    : n_layers_(config.n_layers),
      capacity_(capacity),
      kv_dim_(config.kv_dim()),
      head_dim_(config.head_dim),
      bits_(bits) {
  if (capacity <= 0) fail("KV cache capacity must be positive (got {})", capacity);
  if (bits != 32 && (bits < 2 || bits > 8)) fail("KV cache bits must be 32 or 2..8 (got {})", bits);
  size_t n = size_t(n_layers_) * capacity_ * kv_dim_;
  k_.assign(n, 0.0f);
  v_.assign(n, 0.0f);
}

void KVCache::store(int layer, int pos, int n, const float* k, const float* v) {
  if (pos < 0 || pos + n > capacity_)
    fail("KV cache overflow: positions {}..{} but capacity is {}", pos, pos + n - 1, capacity_);
  float* kd = k_.data() + offset(layer, pos);
  float* vd = v_.data() + offset(layer, pos);
  std::memcpy(kd, k, sizeof(float) * size_t(n) * kv_dim_);
  std::memcpy(vd, v, sizeof(float) * size_t(n) * kv_dim_);
  if (bits_ == 32) return;
  // Group = one head of one token (method.md §6).
  for (int g = 0; g < n * kv_dim_ / head_dim_; ++g) {
    fake_quantize_asym(kd + size_t(g) * head_dim_, head_dim_, bits_);
    fake_quantize_asym(vd + size_t(g) * head_dim_, head_dim_, bits_);
  }
}

void fake_quantize_asym(float* x, int n, int bits) {
  auto [lo, hi] = std::minmax_element(x, x + n);
  float mn = *lo, mx = *hi;
  if (!(mx > mn)) return;  // constant group: exactly representable
  const float levels = float((1 << bits) - 1);
  const float mu = (mx - mn) / levels;
  const float z = std::nearbyint(-mn / mu);
  for (int i = 0; i < n; ++i) {
    float q = std::clamp(std::nearbyint(x[i] / mu) + z, 0.0f, levels);
    x[i] = mu * (q - z);
  }
}

}  // namespace binq
