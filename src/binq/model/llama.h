// LLaMA-family decoder in FP32: RMSNorm, RoPE (both pairings), grouped-query attention, SwiGLU.
// Linear layers go through the Linear interface so quantizers can swap them and capture inputs.
#pragma once
#include <initializer_list>
#include <memory>
#include <vector>

#include "binq/model/kv_cache.h"
#include "binq/model/linear.h"
#include "binq/model/weights.h"

namespace binq {

class LlamaModel {
 public:
  // Every linear layer starts as DenseLinear over the FP32 weights (if present; a quantized
  // checkpoint supplies its layers with set_linear instead).
  explicit LlamaModel(std::shared_ptr<const ModelWeights> weights);

  const ModelConfig& config() const { return weights_->config; }
  const ModelWeights& weights() const { return *weights_; }
  std::shared_ptr<const ModelWeights> weights_ptr() const { return weights_; }

  // Replaces one linear layer; fails if the shape differs from the layer it replaces. nullptr
  // removes it (a quantizer done with a block frees it; running that block then fails).
  void set_linear(LinearId id, std::shared_ptr<const Linear> impl);
  const Linear& linear(LinearId id) const;
  // Replaces the output head (default: FP32 DenseLinear over weights().output).
  void set_head(std::shared_ptr<const Linear> head);
  // Observes every linear input (calibration); pass an empty function to remove it.
  void set_input_hook(LinearInputHook hook) { hook_ = std::move(hook); }
  // Bits of the KV caches made by new_cache (32 = FP32, 4 = INT4).
  void set_kv_bits(int bits) { kv_bits_ = bits; }
  int kv_bits() const { return kv_bits_; }

  KVCache new_cache(int capacity) const { return KVCache(config(), capacity, kv_bits_); }

  // Runs tokens[0..n) at positions pos..pos+n-1, reading and extending `cache`. Positions >= pos
  // in the cache are overwritten, so a shared prefix can be reused by rewinding pos.
  // logits: [n x vocab] when all_logits, else [vocab] for the last token only.
  void forward(const int* tokens, int n, int pos, KVCache& cache, float* logits,
               bool all_logits = true) const;

  // The pieces forward() is made of, for layer-by-layer calibration.
  void embed(const int* tokens, int n, float* x) const;                         // x: [n x dim]
  void forward_block(int layer, float* x, int n, int pos, KVCache& cache) const;  // in place
  void head(const float* x, int n, float* logits) const;                         // [n x vocab]

 private:
  void attention(int layer, const float* q, int n, int pos, const KVCache& cache, float* out) const;
  // Runs the linears `kinds` of `layer` on the same input x: ys[i] = linear(kinds[i]) x. The hook
  // sees each input first, in order; linears of one share class run in one forward_group.
  void run_linears(int layer, std::initializer_list<LinearKind> kinds, const float* x, int n,
                   std::initializer_list<float*> ys) const;
  void update_share_classes(int layer);
  std::shared_ptr<const ModelWeights> weights_;
  std::vector<std::shared_ptr<const Linear>> linears_;  // [layer * kLinearKinds + kind]
  // [layer * kLinearKinds + kind]: the first kind of the layer whose linear can_share_input with
  // this one (itself if none); recomputed by set_linear, so forward never compares perms.
  std::vector<uint8_t> share_class_;
  std::shared_ptr<const Linear> head_;
  std::vector<float> rope_inv_freq_;                    // [head_dim / 2]
  LinearInputHook hook_;
  int kv_bits_ = 32;
};

// Numerically stable log-softmax helpers used by perplexity and evaluation.
// Returns log p(target) from one row of logits.
double log_prob_of(const float* logits, int vocab, int target);

}  // namespace binq
