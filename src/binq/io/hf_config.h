// Hugging Face config.json <-> ModelConfig for LlamaForCausalLM, MistralForCausalLM and
// Qwen2ForCausalLM.
#pragma once
#include <string>

#include "binq/model/config.h"

namespace binq {

// Parses config.json text. `source` (the file name) prefixes every error. Structural fields
// (hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, vocab_size) are
// required; the others default as transformers does. rope_style is always HalfSplit (HF stores
// q/k rows for rotate_half). The result is validated.
ModelConfig parse_hf_config(const std::string& json_text, const std::string& source);

// config.json text for `c`, read back identically by parse_hf_config (except rope_style, which
// the HF writer handles by permuting q/k). `torch_dtype` is informational ("float32", ...).
std::string hf_config_json(const ModelConfig& c, const std::string& torch_dtype);

}  // namespace binq
