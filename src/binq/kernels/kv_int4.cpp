#include "binq/kernels/kv_int4.h"

#include "binq/core/error.h"
#include "binq/kernels/act_quant.h"

namespace binq {

void kv_int4_pack(const float* x, int n_groups, int group, uint8_t* nibbles, KvInt4Group* params) {
  if (group <= 0 || group > 4096) fail("kv_int4_pack: group size {} out of range 1..4096", group);
  const ActQuantConfig cfg{4, Balance::None, 8};
  uint8_t xq[4096];
  const int gb = kv_int4_group_bytes(group);
  for (int g = 0; g < n_groups; ++g) {
    const float* xg = x + int64_t(g) * group;
    const TokenQuant p = quantize_token(xg, group, cfg, xq, nullptr);
    params[g] = p.mu == 0 ? KvInt4Group{xg[0], -1} : KvInt4Group{p.mu, p.z};
    uint8_t* dst = nibbles + int64_t(g) * gb;
    for (int i = 0; i < gb; ++i) {
      const uint8_t lo = xq[2 * i], hi = 2 * i + 1 < group ? xq[2 * i + 1] : 0;
      dst[i] = uint8_t(lo | (hi << 4));
    }
  }
}

void kv_int4_unpack(const uint8_t* nibbles, const KvInt4Group* params, int n_groups, int group,
                    float* out) {
  const int gb = kv_int4_group_bytes(group);
  for (int g = 0; g < n_groups; ++g) {
    const uint8_t* src = nibbles + int64_t(g) * gb;
    const KvInt4Group p = params[g];
    float* o = out + int64_t(g) * group;
    for (int i = 0; i < group; ++i) {
      const int q = (src[i >> 1] >> ((i & 1) * 4)) & 15;
      o[i] = p.mu * float(q - p.z);
    }
  }
}

float kv_int4_dot(const float* q, const uint8_t* nibbles, const KvInt4Group& p, int group) {
  float sq = 0, sqx = 0;
  for (int i = 0; i < group; ++i) {
    const int v = (nibbles[i >> 1] >> ((i & 1) * 4)) & 15;
    sq += q[i];
    sqx += q[i] * float(v);
  }
  return p.mu * (sqx - float(p.z) * sq);
}

KvInt4Cache::KvInt4Cache(int n_layers, int capacity, int n_kv_heads, int head_dim)
    : n_layers_(n_layers), capacity_(capacity), n_heads_(n_kv_heads), head_dim_(head_dim),
      gbytes_(kv_int4_group_bytes(head_dim)) {
  if (n_layers <= 0 || capacity <= 0 || n_kv_heads <= 0 || head_dim <= 0)
    fail("KvInt4Cache: bad shape layers={} capacity={} heads={} head_dim={}", n_layers, capacity,
         n_kv_heads, head_dim);
  const size_t groups = size_t(n_layers) * capacity * n_kv_heads;
  k_.assign(groups * gbytes_, 0);
  v_.assign(groups * gbytes_, 0);
  kp_.assign(groups, KvInt4Group{0, 0});
  vp_.assign(groups, KvInt4Group{0, 0});
}

int64_t KvInt4Cache::index(int layer, int pos) const {
  if (layer < 0 || layer >= n_layers_ || pos < 0 || pos >= capacity_)
    fail("KvInt4Cache: layer {} position {} outside {} layers x {} positions", layer, pos, n_layers_,
         capacity_);
  return (int64_t(layer) * capacity_ + pos) * n_heads_;
}

void KvInt4Cache::store(int layer, int pos, int n, const float* k, const float* v) {
  for (int i = 0; i < n; ++i) {
    const int64_t g = index(layer, pos + i);
    const int64_t row = int64_t(i) * n_heads_ * head_dim_;
    kv_int4_pack(k + row, n_heads_, head_dim_, k_.data() + g * gbytes_, kp_.data() + g);
    kv_int4_pack(v + row, n_heads_, head_dim_, v_.data() + g * gbytes_, vp_.data() + g);
  }
}

void KvInt4Cache::key(int layer, int pos, float* out) const {
  const int64_t g = index(layer, pos);
  kv_int4_unpack(k_.data() + g * gbytes_, kp_.data() + g, n_heads_, head_dim_, out);
}

void KvInt4Cache::value(int layer, int pos, float* out) const {
  const int64_t g = index(layer, pos);
  kv_int4_unpack(v_.data() + g * gbytes_, vp_.data() + g, n_heads_, head_dim_, out);
}

int64_t KvInt4Cache::bytes() const {
  return int64_t(k_.size() + v_.size()) + int64_t(kp_.size() + vp_.size()) * sizeof(KvInt4Group);
}

}  // namespace binq
