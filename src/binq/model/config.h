// Architecture hyper-parameters of a LLaMA-family decoder (LLaMA, Mistral, Qwen2 and llama2.c).
#pragma once
#include <string>

namespace binq {

// How RoPE pairs the dimensions of one head.
//  Interleaved: (0,1), (2,3), ...           -- llama2.c / Meta's original checkpoints.
//  HalfSplit:   (i, i + head_dim/2)         -- Hugging Face ("rotate_half") checkpoints.
enum class RopeStyle { Interleaved, HalfSplit };

// rope_scaling from config.json. "none" | "linear" | "dynamic" (NTK) | "llama3".
struct RopeScaling {
  std::string type = "none";
  float factor = 1.0f;
  float low_freq_factor = 1.0f;    // llama3
  float high_freq_factor = 4.0f;   // llama3
  int original_max_position = 0;   // llama3 / dynamic
};

struct ModelConfig {
  std::string arch = "llama";   // llama | mistral | qwen2 (informational)
  int dim = 0;                  // hidden size
  int hidden_dim = 0;           // FFN intermediate size
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;             // usually dim / n_heads; Qwen/Mistral configs may set it
  int vocab_size = 0;
  int max_seq_len = 0;          // context length the model was trained for
  float rope_theta = 10000.0f;
  RopeScaling rope_scaling;
  RopeStyle rope_style = RopeStyle::Interleaved;
  float norm_eps = 1e-5f;
  bool tie_embeddings = false;
  bool qkv_bias = false;        // Qwen2 has biases on q/k/v
  int bos_id = 1;
  int eos_id = 2;

  int q_dim() const { return n_heads * head_dim; }
  int kv_dim() const { return n_kv_heads * head_dim; }
  // Fails with `source` (file name) in the message if the numbers are inconsistent.
  void validate(const std::string& source) const;
  std::string summary() const;
};

}  // namespace binq
