#include "binq/model/llama.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "binq/core/error.h"

namespace binq {

namespace {

void rmsnorm(const float* x, const float* w, int n_tokens, int dim, float eps, float* out) {
#pragma omp parallel for if (int64_t(n_tokens) * dim > (1 << 16))
  for (int t = 0; t < n_tokens; ++t) {
    const float* xt = x + size_t(t) * dim;
    float* ot = out + size_t(t) * dim;
    double ss = 0;
    for (int i = 0; i < dim; ++i) ss += double(xt[i]) * xt[i];
    float inv = float(1.0 / std::sqrt(ss / dim + eps));
    for (int i = 0; i < dim; ++i) ot[i] = w[i] * (xt[i] * inv);
  }
}

// RoPE frequencies of one head, with the rope_scaling variants that change frequencies.
std::vector<float> rope_frequencies(const ModelConfig& c) {
  const int half = c.head_dim / 2;
  std::vector<float> inv(half);
  for (int i = 0; i < half; ++i) inv[i] = float(1.0 / std::pow(double(c.rope_theta), 2.0 * i / c.head_dim));
  const RopeScaling& s = c.rope_scaling;
  if (s.type == "linear") {
    for (float& f : inv) f /= s.factor;
  } else if (s.type == "llama3") {
    // Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, a smooth ramp between.
    const double old_ctx = s.original_max_position;
    const double low_wavelen = old_ctx / s.low_freq_factor;
    const double high_wavelen = old_ctx / s.high_freq_factor;
    for (float& f : inv) {
      double wavelen = 2 * std::numbers::pi / f;
      if (wavelen < high_wavelen) continue;
      if (wavelen > low_wavelen) {
        f = float(f / s.factor);
      } else {
        double smooth = (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        f = float((1 - smooth) * f / s.factor + smooth * f);
      }
    }
  }
  return inv;
}

// Rotates one head in place at position `pos`. Interleaved pairs (2i, 2i+1) or half-split
// pairs (i, i + hd/2): the same rotation, different storage order of q/k rows.
void rope_head(float* v, int head_dim, int pos, const float* inv_freq, RopeStyle style) {
  const int half = head_dim / 2;
  for (int i = 0; i < half; ++i) {
    float angle = float(pos) * inv_freq[i];
    float c = std::cos(angle), s = std::sin(angle);
    int a = style == RopeStyle::Interleaved ? 2 * i : i;
    int b = style == RopeStyle::Interleaved ? 2 * i + 1 : i + half;
    float x0 = v[a], x1 = v[b];
    v[a] = x0 * c - x1 * s;
    v[b] = x0 * s + x1 * c;
  }
}

}  // namespace

LlamaModel::LlamaModel(std::shared_ptr<const ModelWeights> weights) : weights_(std::move(weights)) {
  const ModelConfig& c = config();
  if (c.rope_scaling.type != "none" && c.rope_scaling.type != "linear" && c.rope_scaling.type != "llama3" &&
      c.rope_scaling.type != "dynamic")
    fail("{}: unsupported rope_scaling type '{}'", weights_->source, c.rope_scaling.type);
  rope_inv_freq_ = rope_frequencies(c);
  if (weights_->output.data) head_ = std::make_shared<DenseLinear>(weights_->output);
  linears_.resize(size_t(c.n_layers) * kLinearKinds);
  for (int l = 0; l < c.n_layers; ++l)
    for (int k = 0; k < kLinearKinds; ++k) {
      const MatrixView& m = weights_->layers[l].linear[k];
      if (m.data) linears_[size_t(l) * kLinearKinds + k] = std::make_shared<DenseLinear>(m);
    }
  share_class_.resize(linears_.size());
  for (int l = 0; l < c.n_layers; ++l) update_share_classes(l);
}

void LlamaModel::update_share_classes(int layer) {
  const auto* lin = linears_.data() + size_t(layer) * kLinearKinds;
  uint8_t* cls = share_class_.data() + size_t(layer) * kLinearKinds;
  for (int k = 0; k < kLinearKinds; ++k) {
    cls[k] = uint8_t(k);
    for (int j = 0; lin[k] && j < k; ++j)
      if (lin[j] && lin[j]->can_share_input(*lin[k])) {
        cls[k] = cls[j];
        break;
      }
  }
}

void LlamaModel::set_linear(LinearId id, std::shared_ptr<const Linear> impl) {
  const MatrixView& m = weights_->layers.at(id.layer).linear[int(id.kind)];
  if (impl && (impl->out_features() != m.rows || impl->in_features() != m.cols))
    fail("layer {} {}: replacement is [{} x {}], expected [{} x {}]", id.layer, linear_name(id.kind),
         impl->out_features(), impl->in_features(), m.rows, m.cols);
  linears_[size_t(id.layer) * kLinearKinds + int(id.kind)] = std::move(impl);
  update_share_classes(id.layer);
}

void LlamaModel::set_head(std::shared_ptr<const Linear> head) {
  const ModelConfig& c = config();
  if (head->out_features() != c.vocab_size || head->in_features() != c.dim)
    fail("output head replacement is [{} x {}], expected [{} x {}]", head->out_features(), head->in_features(),
         c.vocab_size, c.dim);
  head_ = std::move(head);
}

const Linear& LlamaModel::linear(LinearId id) const {
  const auto& p = linears_.at(size_t(id.layer) * kLinearKinds + int(id.kind));
  if (!p) fail("layer {} {}: no weights and no implementation set", id.layer, linear_name(id.kind));
  return *p;
}

void LlamaModel::run_linears(int layer, std::initializer_list<LinearKind> kinds, const float* x, int n,
                             std::initializer_list<float*> ys) const {
  const int m = int(kinds.size());
  if (m > kLinearKinds || ys.size() != kinds.size()) fail("run_linears: {} linears, {} outputs", m, ys.size());
  const Linear* lin[kLinearKinds];
  int cls[kLinearKinds];
  // Looked up and observed in order before any runs, as one at a time would: a calibration hook
  // may end the block by throwing, before the later linears (possibly unset) are looked up.
  for (int i = 0; i < m; ++i) {
    const LinearKind kind = kinds.begin()[i];
    lin[i] = &linear({layer, kind});
    if (hook_) hook_({layer, kind}, x, n, lin[i]->in_features());
    cls[i] = share_class_[size_t(layer) * kLinearKinds + int(kind)];
  }
  bool done[kLinearKinds] = {};
  for (int i = 0; i < m; ++i) {
    if (done[i]) continue;
    const Linear* group[kLinearKinds];
    float* out[kLinearKinds];
    int g = 0;
    for (int j = i; j < m; ++j)
      if (!done[j] && cls[j] == cls[i]) {
        group[g] = lin[j];
        out[g++] = ys.begin()[j];
        done[j] = true;
      }
    lin[i]->forward_group(x, n, {group, size_t(g)}, {out, size_t(g)});
  }
}

void LlamaModel::embed(const int* tokens, int n, float* x) const {
  const ModelConfig& c = config();
  for (int t = 0; t < n; ++t) {
    if (tokens[t] < 0 || tokens[t] >= c.vocab_size)
      fail("token id {} at position {} is outside the vocabulary (size {})", tokens[t], t, c.vocab_size);
    std::copy_n(weights_->tok_embeddings + size_t(tokens[t]) * c.dim, c.dim, x + size_t(t) * c.dim);
  }
}

void LlamaModel::attention(int layer, const float* q, int n, int pos, const KVCache& cache, float* out) const {
  const ModelConfig& c = config();
  const int hd = c.head_dim, group = c.n_heads / c.n_kv_heads;
  const float scale = 1.0f / std::sqrt(float(hd));
  const int total = pos + n;
  // Threads only pay off when there is real work: a fork/join (~5 us on this VM) costs more than
  // a tiny model's heads. Heads are independent, so the split changes no result. At 2^15
  // TinyLlama decode splits from position 16 on; at the former 2^18 only from 128, and serial
  // attention was ~8% of 2-thread decode time over the first 128 positions.
  const int64_t work = int64_t(n) * c.n_heads * total * hd;
#pragma omp parallel if (work > (1 << 15))
  {
    std::vector<float> scores(total);
#pragma omp for collapse(2) schedule(dynamic, 4)
    for (int i = 0; i < n; ++i) {
      for (int h = 0; h < c.n_heads; ++h) {
        const float* qh = q + size_t(i) * c.q_dim() + size_t(h) * hd;
        float* oh = out + size_t(i) * c.q_dim() + size_t(h) * hd;
        const int len = pos + i + 1;  // causal: attend to positions 0..pos+i
        if (cache.bits() == 4) {
          cache.int4().attend(layer, h / group, qh, len, scale, scores.data(), oh);
          continue;
        }
        const int kv_off = (h / group) * hd;
        float mx = -INFINITY;
        for (int t = 0; t < len; ++t) {
          const float* kt = cache.key(layer, t) + kv_off;
          float s = 0;
          for (int d = 0; d < hd; ++d) s += qh[d] * kt[d];
          scores[t] = s * scale;
          mx = std::max(mx, scores[t]);
        }
        float sum = 0;
        for (int t = 0; t < len; ++t) sum += scores[t] = std::exp(scores[t] - mx);
        std::fill_n(oh, hd, 0.0f);
        for (int t = 0; t < len; ++t) {
          const float* vt = cache.value(layer, t) + kv_off;
          float a = scores[t] / sum;
          for (int d = 0; d < hd; ++d) oh[d] += a * vt[d];
        }
      }
    }
  }
}

void LlamaModel::forward_block(int layer, float* x, int n, int pos, KVCache& cache) const {
  const ModelConfig& c = config();
  const LayerWeights& L = weights_->layers[layer];
  const size_t N = size_t(n);
  std::vector<float> xb(N * c.dim), q(N * c.q_dim()), k(N * c.kv_dim()), v(N * c.kv_dim());
  std::vector<float> att(N * c.q_dim()), proj(N * c.dim);

  rmsnorm(x, L.attn_norm, n, c.dim, c.norm_eps, xb.data());
  run_linears(layer, {LinearKind::Q, LinearKind::K, LinearKind::V}, xb.data(), n, {q.data(), k.data(), v.data()});
  if (c.qkv_bias) {
    for (size_t t = 0; t < N; ++t) {
      for (int i = 0; i < c.q_dim(); ++i) q[t * c.q_dim() + i] += L.q_bias[i];
      for (int i = 0; i < c.kv_dim(); ++i) {
        k[t * c.kv_dim() + i] += L.k_bias[i];
        v[t * c.kv_dim() + i] += L.v_bias[i];
      }
    }
  }
  // Dynamic NTK scaling changes the base with the sequence length, so it is computed per call.
  std::vector<float> dyn_freq;
  const float* inv_freq = rope_inv_freq_.data();
  const RopeScaling& rs = c.rope_scaling;
  if (rs.type == "dynamic" && pos + n > rs.original_max_position && rs.original_max_position > 0) {
    ModelConfig scaled = c;
    double ratio = rs.factor * (pos + n) / double(rs.original_max_position) - (rs.factor - 1);
    scaled.rope_theta = float(c.rope_theta * std::pow(ratio, double(c.head_dim) / (c.head_dim - 2)));
    scaled.rope_scaling.type = "none";
    dyn_freq = rope_frequencies(scaled);
    inv_freq = dyn_freq.data();
  }
  for (int t = 0; t < n; ++t) {
    for (int h = 0; h < c.n_heads; ++h)
      rope_head(&q[t * size_t(c.q_dim()) + h * c.head_dim], c.head_dim, pos + t, inv_freq, c.rope_style);
    for (int h = 0; h < c.n_kv_heads; ++h)
      rope_head(&k[t * size_t(c.kv_dim()) + h * c.head_dim], c.head_dim, pos + t, inv_freq, c.rope_style);
  }
  cache.store(layer, pos, n, k.data(), v.data());
  attention(layer, q.data(), n, pos, cache, att.data());
  run_linears(layer, {LinearKind::O}, att.data(), n, {proj.data()});
  for (size_t i = 0; i < N * c.dim; ++i) x[i] += proj[i];

  rmsnorm(x, L.ffn_norm, n, c.dim, c.norm_eps, xb.data());
  std::vector<float> gate(N * c.hidden_dim), up(N * c.hidden_dim);
  run_linears(layer, {LinearKind::Gate, LinearKind::Up}, xb.data(), n, {gate.data(), up.data()});
  // SwiGLU; element-wise, so splitting it over threads (long prefill inputs) changes no result.
  // Not for one token: a fork/join (~5 us) costs more than 5632 exponentials.
  const int64_t ng = int64_t(gate.size());
#pragma omp parallel for schedule(static) if (ng >= (1 << 15))
  for (int64_t i = 0; i < ng; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
  run_linears(layer, {LinearKind::Down}, gate.data(), n, {proj.data()});
  for (size_t i = 0; i < N * c.dim; ++i) x[i] += proj[i];
}

void LlamaModel::head(const float* x, int n, float* logits) const {
  const ModelConfig& c = config();
  std::vector<float> xb(size_t(n) * c.dim);
  rmsnorm(x, weights_->final_norm, n, c.dim, c.norm_eps, xb.data());
  if (!head_) fail("{}: the model has no output head", weights_->source);
  head_->forward(xb.data(), n, logits);
}

void LlamaModel::forward(const int* tokens, int n, int pos, KVCache& cache, float* logits,
                         bool all_logits) const {
  const ModelConfig& c = config();
  if (n <= 0) fail("forward: no tokens");
  if (pos < 0 || pos + n > cache.capacity())
    fail("forward: positions {}..{} exceed the KV cache capacity {}", pos, pos + n - 1, cache.capacity());
  std::vector<float> x(size_t(n) * c.dim);
  embed(tokens, n, x.data());
  for (int l = 0; l < c.n_layers; ++l) forward_block(l, x.data(), n, pos, cache);
  if (all_logits)
    head(x.data(), n, logits);
  else
    head(x.data() + size_t(n - 1) * c.dim, 1, logits);
}

double log_prob_of(const float* logits, int vocab, int target) {
  float mx = *std::max_element(logits, logits + vocab);
  double sum = 0;
  for (int i = 0; i < vocab; ++i) sum += std::exp(double(logits[i]) - mx);
  return double(logits[target]) - mx - std::log(sum);
}

}  // namespace binq
