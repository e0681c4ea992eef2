// Key/value cache of one sequence: [layer][position][kv_dim]. With bits == 4 every stored row is
// quantized per (token, kv head) to asymmetric INT4 (method.md §6) and attention reads the
// dequantized values, exactly as a packed INT4 cache would give them.
#pragma once
#include <vector>

#include "binq/model/config.h"

namespace binq {

class KVCache {
 public:
  KVCache(const ModelConfig& config, int capacity, int bits = 32);
  int capacity() const { return capacity_; }
  int bits() const { return bits_; }
  // Stores n rows (k, v each [n x kv_dim]) at positions pos..pos+n-1 of `layer`.
  void store(int layer, int pos, int n, const float* k, const float* v);
  const float* key(int layer, int pos) const { return k_.data() + offset(layer, pos); }
  const float* value(int layer, int pos) const { return v_.data() + offset(layer, pos); }

 private:
  size_t offset(int layer, int pos) const { return (size_t(layer) * capacity_ + pos) * kv_dim_; }
  int n_layers_, capacity_, kv_dim_, head_dim_, bits_;
  std::vector<float> k_, v_;
};

// Asymmetric per-group quantize-dequantize of `n` floats in place (round to nearest, clip 1.0).
void fake_quantize_asym(float* x, int n, int bits);

}  // namespace binq
