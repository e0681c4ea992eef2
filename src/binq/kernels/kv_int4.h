// Packed INT4 KV cache (method.md §6): every group of `group` floats (one token x one KV head,
// group = head_dim) is quantized to asymmetric INT4 exactly as the activation quantizer does it
// (mu = (max-min)/15, z = round(-min/mu), q = clamp(round(x/mu)+z, 0, 15), x_hat = mu (q - z)),
// stored as two nibbles per byte (element 2i in the low nibble) plus {float mu, int32 z}.
// A constant group (max == min) is stored as q = 0, z = -1, mu = min, so it dequantizes exactly.
#pragma once
#include <cstdint>
#include <vector>

namespace binq {

struct KvInt4Group {
  float mu;
  int32_t z;
};

inline int kv_int4_group_bytes(int group) { return (group + 1) / 2; }

// x: [n_groups x group] -> nibbles [n_groups x kv_int4_group_bytes(group)], params [n_groups].
void kv_int4_pack(const float* x, int n_groups, int group, uint8_t* nibbles, KvInt4Group* params);
// Inverse: out [n_groups x group] = mu (q - z).
void kv_int4_unpack(const uint8_t* nibbles, const KvInt4Group* params, int n_groups, int group,
                    float* out);
// q . dequant(group) without materialising it: mu (sum q_i x_q,i - z sum q_i).
float kv_int4_dot(const float* q, const uint8_t* nibbles, const KvInt4Group& p, int group);

// One sequence's packed cache: [layer][position][kv_head].
class KvInt4Cache {
 public:
  KvInt4Cache(int n_layers, int capacity, int n_kv_heads, int head_dim);
  // k, v: [n x n_kv_heads*head_dim] stored at positions pos..pos+n-1.
  void store(int layer, int pos, int n, const float* k, const float* v);
  // Dequantized row (n_kv_heads*head_dim floats) of position pos.
  void key(int layer, int pos, float* out) const;
  void value(int layer, int pos, float* out) const;
  int64_t bytes() const;

 private:
  int64_t index(int layer, int pos) const;
  int n_layers_, capacity_, n_heads_, head_dim_, gbytes_;
  std::vector<uint8_t> k_, v_;
  std::vector<KvInt4Group> kp_, vp_;
};

}  // namespace binq
