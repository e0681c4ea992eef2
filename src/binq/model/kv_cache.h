// Key/value cache of one sequence. bits == 32: FP32 rows [layer][position][kv_dim]. bits == 4:
// the packed INT4 cache of kernels/kv_int4.h (per token and KV head, asymmetric, FP16 step;
// method.md §6), which attention reads directly.
#pragma once
#include <memory>
#include <vector>

#include "binq/kernels/kv_int4.h"
#include "binq/model/config.h"

namespace binq {

class KVCache {
 public:
  KVCache(const ModelConfig& config, int capacity, int bits = 32);
  int capacity() const { return capacity_; }
  int bits() const { return bits_; }
  // Stores n rows (k, v each [n x kv_dim]) at positions pos..pos+n-1 of `layer`.
  void store(int layer, int pos, int n, const float* k, const float* v);
  // FP32 rows (bits == 32 only).
  const float* key(int layer, int pos) const { return k_.data() + offset(layer, pos); }
  const float* value(int layer, int pos) const { return v_.data() + offset(layer, pos); }
  // The packed cache (bits == 4 only).
  const KvInt4Cache& int4() const { return *int4_; }
  int64_t bytes() const;

 private:
  size_t offset(int layer, int pos) const { return (size_t(layer) * capacity_ + pos) * kv_dim_; }
  int n_layers_, capacity_, kv_dim_, head_dim_, bits_;
  std::vector<float> k_, v_;
  std::shared_ptr<KvInt4Cache> int4_;
};

}  // namespace binq
