// Packed INT4 KV cache (method.md §6) and attention reading it directly.
//
// Every group of `group` floats (one token x one KV head, group = head_dim) is quantized to
// asymmetric INT4 with an FP16 step and an integer zero point:
//   mu = fp16((max - min) / 15), z = round(-min / mu) (clamped to int16),
//   q = clamp(round(x / mu) + z, 0, 15),  x_hat = mu (q - z).
// The step is rounded to FP16 BEFORE z and q are formed, so x_hat stays within mu/2 of x inside
// [min, max]. Stored as two nibbles per byte (element 2i in the low nibble, the high nibble of the
// last byte zero for odd groups) plus KvInt4Params {FP16 mu, int16 z}: (group+1)/2 + 4 bytes.
// A constant group (max == min, or a step that rounds to 0 in FP16) stores q = 0, z = -1,
// mu = fp16(min): x_hat = fp16(min) (exact for 0).
// kv_int4_fake_quantize gives exactly the values the packed cache dequantizes to (use it for the
// simulated / float path so both paths see identical K and V).
#pragma once
#include <cstdint>
#include <vector>

#include "binq/kernels/kernel_table.h"

namespace binq {

inline int kv_int4_group_bytes(int group) { return (group + 1) / 2; }

// x: [n_groups x group] -> nibbles [n_groups x kv_int4_group_bytes(group)], params [n_groups].
void kv_int4_pack(const float* x, int n_groups, int group, uint8_t* nibbles, KvInt4Params* params);
// Inverse: out [n_groups x group] = mu (q - z).
void kv_int4_unpack(const uint8_t* nibbles, const KvInt4Params* params, int n_groups, int group,
                    float* out);
// x_hat in place of quantize + dequantize (same numbers as pack then unpack).
void kv_int4_fake_quantize(const float* x, int n_groups, int group, float* out);

// One sequence's packed cache: [layer][position][kv_head] groups of head_dim.
class KvInt4Cache {
 public:
  KvInt4Cache(int n_layers, int capacity, int n_kv_heads, int head_dim);
  int capacity() const { return capacity_; }
  // k, v: [n x n_kv_heads*head_dim] stored at positions pos..pos+n-1.
  void store(int layer, int pos, int n, const float* k, const float* v);
  // Dequantized row (n_kv_heads*head_dim floats) of position pos.
  void key(int layer, int pos, float* out) const;
  void value(int layer, int pos, float* out) const;

  // Attention of one query head against KV head `kv_head`, positions 0..n_pos-1 (table: nullptr =
  // active ISA; scratch-free, single-threaded: call it from the caller's parallel loop).
  //   scores(...)          s[t] = alpha * q . K_t                       (s: n_pos floats)
  //   weighted_values(...) out[d] = sum_t p[t] V_t[d]                   (out: head_dim floats)
  //   attend(...)          out = softmax(scale * q . K_t) . V  as LlamaModel::attention does it
  //                        (max subtracted, exp, divided by the sum); s: n_pos floats of scratch.
  void scores(int layer, int kv_head, const float* q, int n_pos, float alpha, float* s,
              const KernelTable* table = nullptr) const;
  void weighted_values(int layer, int kv_head, const float* p, int n_pos, float* out,
                       const KernelTable* table = nullptr) const;
  void attend(int layer, int kv_head, const float* q, int n_pos, float scale, float* s, float* out,
              const KernelTable* table = nullptr) const;

  int64_t bytes() const;  // nibbles + params of the whole capacity

 private:
  int64_t index(int layer, int pos) const;
  void check_range(int layer, int kv_head, int n_pos) const;
  int n_layers_, capacity_, n_heads_, head_dim_, gbytes_;
  std::vector<uint8_t> k_, v_;
  std::vector<KvInt4Params> kp_, vp_;
};

}  // namespace binq
