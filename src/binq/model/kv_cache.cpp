#include "binq/model/kv_cache.h"

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
  if (bits == 4) {
    int4_ = std::make_shared<KvInt4Cache>(n_layers_, capacity, config.n_kv_heads, head_dim_);
  } else if (bits == 32) {
    size_t n = size_t(n_layers_) * capacity_ * kv_dim_;
    k_.assign(n, 0.0f);
    v_.assign(n, 0.0f);
  } else {
    fail("KV cache bits must be 32 (FP32) or 4 (INT4), got {}", bits);
  }
}

void KVCache::store(int layer, int pos, int n, const float* k, const float* v) {
  if (pos < 0 || pos + n > capacity_)
    fail("KV cache overflow: positions {}..{} but capacity is {}", pos, pos + n - 1, capacity_);
  if (int4_) return int4_->store(layer, pos, n, k, v);
  std::memcpy(k_.data() + offset(layer, pos), k, sizeof(float) * size_t(n) * kv_dim_);
  std::memcpy(v_.data() + offset(layer, pos), v, sizeof(float) * size_t(n) * kv_dim_);
}

int64_t KVCache::bytes() const {
  return int4_ ? int4_->bytes() : int64_t(k_.size() + v_.size()) * int64_t(sizeof(float));
}

}  // namespace binq
