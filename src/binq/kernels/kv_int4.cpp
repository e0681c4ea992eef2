#include "binq/kernels/kv_int4.h"

#include <algorithm>
#include <cmath>

#include "binq/core/error.h"
#include "binq/core/half.h"
#include "binq/kernels/dispatch.h"

namespace binq {
namespace {

constexpr int kMaxHeadDim = 4096;

// Quantizes one group: codes into xq (group bytes), returns the params.
KvInt4Params quantize_group(const float* x, int group, uint8_t* xq) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < group; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  if (!std::isfinite(lo) || !std::isfinite(hi))
    fail("kv_int4: non-finite key/value (min {}, max {})", lo, hi);
  const uint16_t h = float_to_fp16(std::min((hi - lo) / 15.0f, 65504.0f));
  const float mu = fp16_to_float(h);
  if (!(hi > lo) || !(mu > 0)) {  // constant group (or a range below FP16 resolution)
    std::fill(xq, xq + group, uint8_t(0));
    return {float_to_fp16(lo), int16_t(-1)};
  }
  const float zf = std::clamp(std::nearbyint(-lo / mu), -32768.0f, 32767.0f);
  for (int i = 0; i < group; ++i)
    xq[i] = uint8_t(std::clamp(std::nearbyint(x[i] / mu) + zf, 0.0f, 15.0f));
  return {h, int16_t(zf)};
}

}  // namespace

void kv_int4_pack(const float* x, int n_groups, int group, uint8_t* nibbles, KvInt4Params* params) {
  if (group <= 0 || group > kMaxHeadDim)
    fail("kv_int4_pack: group size {} out of range 1..{}", group, kMaxHeadDim);
  uint8_t xq[kMaxHeadDim + 1];
  const int gb = kv_int4_group_bytes(group);
  for (int g = 0; g < n_groups; ++g) {
    params[g] = quantize_group(x + int64_t(g) * group, group, xq);
    xq[group] = 0;
    uint8_t* dst = nibbles + int64_t(g) * gb;
    for (int i = 0; i < gb; ++i) dst[i] = uint8_t(xq[2 * i] | (xq[2 * i + 1] << 4));
  }
}

void kv_int4_unpack(const uint8_t* nibbles, const KvInt4Params* params, int n_groups, int group,
                    float* out) {
  const int gb = kv_int4_group_bytes(group);
  for (int g = 0; g < n_groups; ++g) {
    const uint8_t* src = nibbles + int64_t(g) * gb;
    const float mu = fp16_to_float(params[g].scale);
    const int z = params[g].zero;
    float* o = out + int64_t(g) * group;
    for (int i = 0; i < group; ++i) o[i] = mu * float(((src[i >> 1] >> ((i & 1) * 4)) & 15) - z);
  }
}

void kv_int4_fake_quantize(const float* x, int n_groups, int group, float* out) {
  std::vector<uint8_t> nib(size_t(kv_int4_group_bytes(group)));
  for (int g = 0; g < n_groups; ++g) {
    KvInt4Params p;
    kv_int4_pack(x + int64_t(g) * group, 1, group, nib.data(), &p);
    kv_int4_unpack(nib.data(), &p, 1, group, out + int64_t(g) * group);
  }
}

KvInt4Cache::KvInt4Cache(int n_layers, int capacity, int n_kv_heads, int head_dim)
    : n_layers_(n_layers), capacity_(capacity), n_heads_(n_kv_heads), head_dim_(head_dim),
      gbytes_(kv_int4_group_bytes(head_dim)) {
  if (n_layers <= 0 || capacity <= 0 || n_kv_heads <= 0 || head_dim <= 0 || head_dim > kMaxHeadDim)
    fail("KvInt4Cache: bad shape layers={} capacity={} heads={} head_dim={}", n_layers, capacity,
         n_kv_heads, head_dim);
  const size_t groups = size_t(n_layers) * capacity * n_kv_heads;
  k_.assign(groups * gbytes_, 0);
  v_.assign(groups * gbytes_, 0);
  kp_.assign(groups, KvInt4Params{0, 0});
  vp_.assign(groups, KvInt4Params{0, 0});
}

int64_t KvInt4Cache::index(int layer, int pos) const {
  if (layer < 0 || layer >= n_layers_ || pos < 0 || pos >= capacity_)
    fail("KvInt4Cache: layer {} position {} outside {} layers x {} positions", layer, pos, n_layers_,
         capacity_);
  return (int64_t(layer) * capacity_ + pos) * n_heads_;
}

void KvInt4Cache::check_range(int layer, int kv_head, int n_pos) const {
  if (kv_head < 0 || kv_head >= n_heads_ || n_pos < 0 || n_pos > capacity_)
    fail("KvInt4Cache: kv head {} / {} positions outside {} heads x {} positions", kv_head, n_pos,
         n_heads_, capacity_);
  index(layer, 0);
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

namespace {
int padded(int gb) { return (gb + 31) / 32 * 32; }
}  // namespace

void KvInt4Cache::scores(int layer, int kv_head, const float* q, int n_pos, float alpha, float* s,
                         const KernelTable* table) const {
  check_range(layer, kv_head, n_pos);
  if (n_pos == 0) return;
  const KernelTable& kt = table ? *table : kernel_table();
  alignas(64) float qe[kMaxHeadDim / 2 + 32], qo[kMaxHeadDim / 2 + 32];
  const int pg = padded(gbytes_);
  for (int i = 0; i < pg; ++i) {
    qe[i] = 2 * i < head_dim_ ? q[2 * i] : 0.0f;
    qo[i] = 2 * i + 1 < head_dim_ ? q[2 * i + 1] : 0.0f;
  }
  const int64_t g = index(layer, 0) + kv_head;
  kt.kv_scores(qe, qo, head_dim_, k_.data() + g * gbytes_, kp_.data() + g, n_heads_, n_pos, alpha, s);
}

void KvInt4Cache::weighted_values(int layer, int kv_head, const float* p, int n_pos, float* out,
                                  const KernelTable* table) const {
  check_range(layer, kv_head, n_pos);
  const KernelTable& kt = table ? *table : kernel_table();
  alignas(64) float oe[kMaxHeadDim / 2 + 32], oo[kMaxHeadDim / 2 + 32];
  const int64_t g = index(layer, 0) + kv_head;
  if (n_pos == 0) {
    std::fill(out, out + head_dim_, 0.0f);
    return;
  }
  kt.kv_weighted_sum(p, n_pos, v_.data() + g * gbytes_, vp_.data() + g, n_heads_, head_dim_, oe, oo);
  for (int d = 0; d < head_dim_; ++d) out[d] = (d & 1) ? oo[d >> 1] : oe[d >> 1];
}

void KvInt4Cache::attend(int layer, int kv_head, const float* q, int n_pos, float scale, float* s,
                         float* out, const KernelTable* table) const {
  scores(layer, kv_head, q, n_pos, scale, s, table);
  float mx = -INFINITY;
  for (int t = 0; t < n_pos; ++t) mx = std::max(mx, s[t]);
  float sum = 0;
  // expf is exactly +0 below -104 (under half the smallest subnormal), but glibc reaches that
  // answer through its slow underflow path (xflowf: ~1% of 2-thread decode time at 128 positions
  // with peaked attention). Same values, without the detour.
  for (int t = 0; t < n_pos; ++t) {
    const float d = s[t] - mx;
    sum += s[t] = d < -104.0f ? 0.0f : std::exp(d);
  }
  const float inv = 1.0f / sum;
  for (int t = 0; t < n_pos; ++t) s[t] *= inv;
  weighted_values(layer, kv_head, s, n_pos, out, table);
}

int64_t KvInt4Cache::bytes() const {
  return int64_t(k_.size() + v_.size()) + int64_t(kp_.size() + vp_.size()) * sizeof(KvInt4Params);
}

}  // namespace binq
