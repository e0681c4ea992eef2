// Shared helpers of the tests/io executables: small random models and tensor comparisons.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "binq/core/error.h"
#include "binq/io/io_util.h"
#include "binq/model/weights.h"

namespace binq::test {

// A tiny LLaMA-style config (GQA, head_dim 4) that keeps files a few KB.
inline ModelConfig tiny_config(bool tied = false) {
  ModelConfig c;
  c.dim = 16;
  c.hidden_dim = 24;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 4;
  c.vocab_size = 32;
  c.max_seq_len = 16;
  c.rope_style = RopeStyle::Interleaved;
  c.tie_embeddings = tied;
  return c;
}

// Weights with random values (norms around 1, matrices around 0) owned by the object itself.
inline std::shared_ptr<ModelWeights> random_weights(const ModelConfig& c, uint32_t seed) {
  auto w = std::make_shared<ModelWeights>();
  w->config = c;
  w->source = "random-" + std::to_string(seed);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  auto fill = [&](size_t n, float offset) {
    float* p = w->allocate(n);
    for (size_t i = 0; i < n; ++i) p[i] = offset + normal(rng);
    return p;
  };
  w->tok_embeddings = fill(size_t(c.vocab_size) * c.dim, 0);
  w->layers.resize(size_t(c.n_layers));
  for (LayerWeights& L : w->layers) {
    L.attn_norm = fill(size_t(c.dim), 1);
    L.ffn_norm = fill(size_t(c.dim), 1);
    for (int k = 0; k < kLinearKinds; ++k) {
      MatrixView& m = L.linear[k];
      linear_shape(c, LinearKind(k), m.rows, m.cols);
      m.data = fill(size_t(m.numel()), 0);
    }
    if (c.qkv_bias) {
      L.q_bias = fill(size_t(c.q_dim()), 0);
      L.k_bias = fill(size_t(c.kv_dim()), 0);
      L.v_bias = fill(size_t(c.kv_dim()), 0);
    }
  }
  w->final_norm = fill(size_t(c.dim), 1);
  w->output = {c.tie_embeddings ? w->tok_embeddings : fill(size_t(c.vocab_size) * c.dim, 0), c.vocab_size, c.dim};
  w->validate();
  return w;
}

inline void expect_config_eq(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.dim, b.dim);
  EXPECT_EQ(a.hidden_dim, b.hidden_dim);
  EXPECT_EQ(a.n_layers, b.n_layers);
  EXPECT_EQ(a.n_heads, b.n_heads);
  EXPECT_EQ(a.n_kv_heads, b.n_kv_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.max_seq_len, b.max_seq_len);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.rope_scaling.type, b.rope_scaling.type);
  EXPECT_EQ(a.rope_scaling.factor, b.rope_scaling.factor);
  EXPECT_EQ(a.norm_eps, b.norm_eps);
  EXPECT_EQ(a.tie_embeddings, b.tie_embeddings);
  EXPECT_EQ(a.qkv_bias, b.qkv_bias);
  EXPECT_EQ(a.bos_id, b.bos_id);
  EXPECT_EQ(a.eos_id, b.eos_id);
}

// How a stored value is allowed to differ from the original: exactly, or rounded through a half type.
using Rounding = std::function<float(float)>;
inline float exact(float x) { return x; }

// Visits every tensor pair (a's pointer, b's pointer, element count, name).
inline void for_each_tensor_pair(const ModelWeights& a, const ModelWeights& b,
                                 const std::function<void(const float*, const float*, size_t, const std::string&)>& f) {
  const ModelConfig& c = a.config;
  f(a.tok_embeddings, b.tok_embeddings, size_t(c.vocab_size) * c.dim, "tok_embeddings");
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights &A = a.layers[size_t(l)], &B = b.layers[size_t(l)];
    const std::string p = "layer " + std::to_string(l) + " ";
    f(A.attn_norm, B.attn_norm, size_t(c.dim), p + "attn_norm");
    f(A.ffn_norm, B.ffn_norm, size_t(c.dim), p + "ffn_norm");
    for (int k = 0; k < kLinearKinds; ++k)
      f(A.linear[k].data, B.linear[k].data, size_t(A.linear[k].numel()), p + linear_name(LinearKind(k)));
    if (c.qkv_bias) {
      f(A.q_bias, B.q_bias, size_t(c.q_dim()), p + "q_bias");
      f(A.k_bias, B.k_bias, size_t(c.kv_dim()), p + "k_bias");
      f(A.v_bias, B.v_bias, size_t(c.kv_dim()), p + "v_bias");
    }
  }
  f(a.final_norm, b.final_norm, size_t(c.dim), "final_norm");
  f(a.output.data, b.output.data, size_t(c.vocab_size) * c.dim, "output");
}

// Every value of `loaded` equals round(original value); counts mismatches instead of flooding.
inline void expect_weights_eq(const ModelWeights& original, const ModelWeights& loaded, const Rounding& round = exact) {
  ASSERT_EQ(original.layers.size(), loaded.layers.size());
  for_each_tensor_pair(original, loaded, [&](const float* a, const float* b, size_t n, const std::string& name) {
    ASSERT_NE(a, nullptr) << name;
    ASSERT_NE(b, nullptr) << name;
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i) bad += !(round(a[i]) == b[i]);
    EXPECT_EQ(bad, 0u) << name << ": " << bad << " of " << n << " values differ";
  });
}

}  // namespace binq::test

// Runs `stmt`, requiring a binq::Error whose message contains `substr`.
#define EXPECT_BINQ_ERROR(stmt, substr)                                                            \
  do {                                                                                             \
    try {                                                                                          \
      stmt;                                                                                        \
      ADD_FAILURE() << "expected binq::Error containing '" << (substr) << "', nothing was thrown"; \
    } catch (const binq::Error& e) {                                                               \
      EXPECT_NE(std::string(e.what()).find(substr), std::string::npos)                             \
          << "message '" << e.what() << "' lacks '" << (substr) << "'";                            \
    }                                                                                              \
  } while (0)
