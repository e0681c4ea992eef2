#include "binq/model/synthetic.h"

#include <cmath>

#include "binq/core/error.h"

namespace binq {

ModelConfig synthetic_config(const std::string& shape) {
  ModelConfig c;
  c.arch = "llama";
  c.rope_style = RopeStyle::HalfSplit;
  c.vocab_size = 32000;
  if (shape == "tinyllama-1.1b") {
    c.dim = 2048, c.hidden_dim = 5632, c.n_layers = 22, c.n_heads = 32, c.n_kv_heads = 4, c.max_seq_len = 2048;
  } else if (shape == "llama-7b" || shape == "llama2-7b") {
    c.dim = 4096, c.hidden_dim = 11008, c.n_layers = 32, c.n_heads = 32, c.n_kv_heads = 32;
    c.max_seq_len = shape == "llama-7b" ? 2048 : 4096;
  } else if (shape == "stories260k-shape") {
    c.dim = 64, c.hidden_dim = 172, c.n_layers = 5, c.n_heads = 8, c.n_kv_heads = 4, c.max_seq_len = 512;
    c.vocab_size = 512, c.rope_style = RopeStyle::Interleaved;
  } else if (shape == "tiny") {
    c.dim = 96, c.hidden_dim = 200, c.n_layers = 2, c.n_heads = 6, c.n_kv_heads = 2, c.max_seq_len = 256;
    c.vocab_size = 300;
  } else {
    std::string names;
    for (auto& n : synthetic_shape_names()) names += (names.empty() ? "" : ", ") + n;
    fail("unknown synthetic shape '{}' (known: {})", shape, names);
  }
  c.head_dim = c.dim / c.n_heads;
  c.rope_theta = 10000.0f;
  c.norm_eps = 1e-5f;
  c.arch = "synthetic-" + shape;
  return c;
}

std::vector<std::string> synthetic_shape_names() {
  return {"tinyllama-1.1b", "llama-7b", "llama2-7b", "stories260k-shape", "tiny"};
}

namespace {

// splitmix64: cheap, good enough to fill gigabytes quickly and reproducibly in parallel chunks.
inline uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

float* random_tensor(ModelWeights& w, size_t n, float amplitude, uint64_t seed) {
  float* p = w.allocate(n);
  const size_t chunk = 1 << 16;
#pragma omp parallel for schedule(static)
  for (size_t c = 0; c < (n + chunk - 1) / chunk; ++c) {
    uint64_t s = seed * 0x100000001b3ull + c;
    for (size_t i = c * chunk; i < std::min(n, (c + 1) * chunk); ++i)
      p[i] = amplitude * (float(splitmix(s) >> 40) * (2.0f / 16777216.0f) - 1.0f);
  }
  return p;
}

}  // namespace

std::shared_ptr<ModelWeights> make_synthetic_weights(const ModelConfig& config, uint64_t seed, bool linears) {
  auto w = std::make_shared<ModelWeights>();
  const ModelConfig& c = w->config = config;
  w->source = "synthetic:" + c.arch;
  uint64_t tensor = seed * 1000;
  auto ones = [&](int n) {
    float* p = w->allocate(n);
    std::fill_n(p, n, 1.0f);
    return p;
  };
  w->tok_embeddings = random_tensor(*w, size_t(c.vocab_size) * c.dim, 1.0f, tensor++);
  w->layers.resize(c.n_layers);
  for (auto& L : w->layers) {
    L.attn_norm = ones(c.dim);
    L.ffn_norm = ones(c.dim);
    for (int k = 0; k < kLinearKinds; ++k) {
      int rows, cols;
      linear_shape(c, LinearKind(k), rows, cols);
      float a = std::sqrt(3.0f / cols);
      L.linear[k] = {linears ? random_tensor(*w, size_t(rows) * cols, a, tensor++) : nullptr, rows, cols};
    }
    if (c.qkv_bias) {
      L.q_bias = w->allocate(c.q_dim());
      L.k_bias = w->allocate(c.kv_dim());
      L.v_bias = w->allocate(c.kv_dim());
    }
  }
  w->final_norm = ones(c.dim);
  w->output = {random_tensor(*w, size_t(c.vocab_size) * c.dim, std::sqrt(3.0f / c.dim), tensor++), c.vocab_size, c.dim};
  return w;
}

}  // namespace binq
