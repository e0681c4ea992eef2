#include "binq/model/weights.h"

#include <cmath>

#include "binq/core/error.h"

namespace binq {

const char* linear_name(LinearKind kind) {
  static const char* names[kLinearKinds] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                            "gate_proj", "up_proj", "down_proj"};
  return names[int(kind)];
}

float* ModelWeights::allocate(size_t n) {
  auto buffer = std::shared_ptr<float[]>(new float[n]());
  keep_alive.push_back(buffer);
  return buffer.get();
}

void linear_shape(const ModelConfig& c, LinearKind kind, int& rows, int& cols) {
  switch (kind) {
    case LinearKind::Q: rows = c.q_dim(); cols = c.dim; break;
    case LinearKind::K:
    case LinearKind::V: rows = c.kv_dim(); cols = c.dim; break;
    case LinearKind::O: rows = c.dim; cols = c.q_dim(); break;
    case LinearKind::Gate:
    case LinearKind::Up: rows = c.hidden_dim; cols = c.dim; break;
    case LinearKind::Down: rows = c.dim; cols = c.hidden_dim; break;
  }
}

const std::vector<std::vector<LinearKind>>& linear_groups() {
  static const std::vector<std::vector<LinearKind>> groups = {
      {LinearKind::Q, LinearKind::K, LinearKind::V},
      {LinearKind::O},
      {LinearKind::Gate, LinearKind::Up},
      {LinearKind::Down}};
  return groups;
}

namespace {

template <typename F>
void for_each_tensor(const ModelWeights& w, F&& f) {
  const ModelConfig& c = w.config;
  f("tok_embeddings", w.tok_embeddings, int64_t(c.vocab_size) * c.dim);
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const LayerWeights& L = w.layers[l];
    std::string p = "layers." + std::to_string(l) + ".";
    f(p + "attn_norm", L.attn_norm, c.dim);
    f(p + "ffn_norm", L.ffn_norm, c.dim);
    for (int k = 0; k < kLinearKinds; ++k) f(p + linear_name(LinearKind(k)), L.linear[k].data, L.linear[k].numel());
    if (c.qkv_bias) {
      f(p + "q_bias", L.q_bias, c.q_dim());
      f(p + "k_bias", L.k_bias, c.kv_dim());
      f(p + "v_bias", L.v_bias, c.kv_dim());
    }
  }
  f("final_norm", w.final_norm, c.dim);
  if (!c.tie_embeddings) f("output", w.output.data, w.output.numel());
}

}  // namespace

void ModelWeights::validate() const {
  const ModelConfig& c = config;
  c.validate(source);
  if (int(layers.size()) != c.n_layers)
    fail("{}: {} layers loaded but the config says {}", source, layers.size(), c.n_layers);
  for (size_t l = 0; l < layers.size(); ++l) {
    for (int k = 0; k < kLinearKinds; ++k) {
      int rows, cols;
      linear_shape(c, LinearKind(k), rows, cols);
      const MatrixView& m = layers[l].linear[k];
      // A quantized checkpoint supplies its own linear layers: no FP32 data, shape still checked.
      if (m.rows != rows || m.cols != cols)
        fail("{}: layer {} {} has shape [{} x {}], expected [{} x {}]", source, l,
             linear_name(LinearKind(k)), m.rows, m.cols, rows, cols);
    }
  }
  if (output.rows != c.vocab_size || output.cols != c.dim)
    fail("{}: output head has shape [{} x {}], expected [{} x {}]", source, output.rows, output.cols,
         c.vocab_size, c.dim);
  for_each_tensor(*this, [&](const std::string& name, const float* p, int64_t n) {
    // Linears and the head of a quantized checkpoint come as separate implementations.
    bool replaceable = name.find("_proj") != std::string::npos || name == "output";
    if (!p && !replaceable) fail("{}: tensor '{}' is missing", source, name);
  });
}

std::string ModelWeights::find_non_finite() const {
  std::string bad;
  for_each_tensor(*this, [&](const std::string& name, const float* p, int64_t n) {
    if (!bad.empty() || !p) return;
    for (int64_t i = 0; i < n; ++i)
      if (!std::isfinite(p[i])) {
        bad = name;
        return;
      }
  });
  return bad;
}

BlockLinears block_linears(const ModelWeights& w, int layer) {
  const LayerWeights& L = w.layers.at(size_t(layer));
  bool resident = true;
  for (int k = 0; k < kLinearKinds; ++k) resident &= L.linear[k].data != nullptr;
  if (resident) {
    BlockLinears b;
    for (int k = 0; k < kLinearKinds; ++k) b.linear[k] = L.linear[k];
    return b;
  }
  if (!w.linear_source) fail("{}: layer {} has no FP32 linear weights (quantized model?)", w.source, layer);
  BlockLinears b = w.linear_source->load(layer);
  for (int k = 0; k < kLinearKinds; ++k) {
    const MatrixView& m = b.linear[k];
    if (!m.data || m.rows != L.linear[k].rows || m.cols != L.linear[k].cols)
      fail("{}: layer {} {}: the block loader returned [{} x {}], expected [{} x {}]", w.source, layer,
           linear_name(LinearKind(k)), m.rows, m.cols, L.linear[k].rows, L.linear[k].cols);
    // The scan check_loaded_weights does at load time for resident tensors.
    for (int64_t i = 0; i < m.numel(); ++i)
      if (!std::isfinite(m.data[i]))
        fail("{}: tensor 'layers.{}.{}' contains NaN or Inf values; refusing to load a corrupt checkpoint", w.source,
             layer, linear_name(LinearKind(k)));
  }
  return b;
}

int64_t ModelWeights::parameter_count() const {
  int64_t total = 0;
  for_each_tensor(*this, [&](const std::string&, const float*, int64_t n) { total += n; });
  return total;
}

}  // namespace binq
