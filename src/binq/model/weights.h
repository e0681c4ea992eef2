// FP32 weights of a LLaMA-family model. Tensors point either into a memory-mapped checkpoint
// (llama2.c and F32 safetensors: no copy) or into buffers owned here (converted F16/BF16).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "binq/model/config.h"

namespace binq {

// Row-major [rows x cols] matrix view; a linear layer's weight is [out_features x in_features].
struct MatrixView {
  const float* data = nullptr;
  int rows = 0;
  int cols = 0;
  int64_t numel() const { return int64_t(rows) * cols; }
};

// The seven linear layers of one decoder block.
enum class LinearKind { Q = 0, K, V, O, Gate, Up, Down };
inline constexpr int kLinearKinds = 7;
const char* linear_name(LinearKind kind);   // "q_proj", ..., "down_proj" (HF names)
// Expected [rows x cols] (= [out x in]) of a linear layer under `c`.
void linear_shape(const ModelConfig& c, LinearKind kind, int& rows, int& cols);
// The linears of a block grouped by the activation they read, in data-flow order:
// {q,k,v}, {o}, {gate,up}, {down}. The quantizer gives each group one channel order (perm).
const std::vector<std::vector<LinearKind>>& linear_groups();

struct LayerWeights {
  const float* attn_norm = nullptr;  // [dim]
  const float* ffn_norm = nullptr;   // [dim]
  MatrixView linear[kLinearKinds];   // indexed by LinearKind
  const float* q_bias = nullptr;     // [q_dim]  (Qwen2 only)
  const float* k_bias = nullptr;     // [kv_dim]
  const float* v_bias = nullptr;     // [kv_dim]
  const MatrixView& w(LinearKind k) const { return linear[int(k)]; }
};

// FP32 weights of the seven linears of one decoder block, valid while this object lives: views
// into resident weights, or buffers / mapped pages loaded for this block alone and released
// (freed, or dropped from the resident set) when it is destroyed.
struct BlockLinears {
  MatrixView linear[kLinearKinds];
  std::vector<std::shared_ptr<const void>> keep_alive;
  const MatrixView& w(LinearKind k) const { return linear[int(k)]; }
};

// Loads the linears of one block at a time, for weights loaded without them (see
// ModelWeights::linear_source). Implemented by the checkpoint loaders.
class LinearSource {
 public:
  virtual ~LinearSource() = default;
  // The block's linears in FP32 (converted if the checkpoint stores F16/BF16).
  virtual BlockLinears load(int layer) const = 0;
};

struct ModelWeights {
  ModelConfig config;
  std::string source;                    // file or folder it was loaded from
  const float* tok_embeddings = nullptr; // [vocab x dim]
  std::vector<LayerWeights> layers;
  const float* final_norm = nullptr;     // [dim]
  MatrixView output;                     // [vocab x dim]; == tok_embeddings when tied

  // Set when the decoder blocks' linears were left out at load time to bound memory (their
  // MatrixViews carry shapes but no data): the quantizer loads them one block at a time.
  std::shared_ptr<const LinearSource> linear_source;

  // Owned storage backing the pointers above (mapped files, converted buffers).
  std::vector<std::shared_ptr<const void>> keep_alive;
  // Allocates an owned float buffer of n elements and returns its address.
  float* allocate(size_t n);

  // Fails naming the tensor if any pointer is missing or a shape disagrees with the config.
  void validate() const;
  // Scans every tensor for NaN/Inf; returns the name of the first bad one or "".
  std::string find_non_finite() const;
  int64_t parameter_count() const;
};

// The FP32 linears of block `layer`: views of the resident weights, or loaded through
// w.linear_source and checked for NaN/Inf (failing with the tensor's name, as at load time).
// Fails if the block has neither.
BlockLinears block_linears(const ModelWeights& w, int layer);

}  // namespace binq
