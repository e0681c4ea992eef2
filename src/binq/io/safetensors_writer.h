// Writing safetensors files and Hugging Face checkpoint folders (tests, `binq synth`).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "binq/model/weights.h"

namespace binq {

enum class TensorDType { F32, F16, BF16 };
const char* dtype_name(TensorDType dtype);  // "F32", "F16", "BF16"

struct TensorToWrite {
  std::string name;
  TensorDType dtype = TensorDType::F32;
  std::vector<int64_t> shape;
  const float* data = nullptr;  // numel(shape) floats, rounded to dtype when written
};

// The bytes of a safetensors file holding `tensors` (in this order; header padded with spaces
// to a multiple of 8 so F32 data stays aligned). `metadata` goes to "__metadata__".
std::string safetensors_bytes(const std::vector<TensorToWrite>& tensors,
                              const std::vector<std::pair<std::string, std::string>>& metadata = {{"format", "pt"}});
// Writes them to `path` atomically.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors);

struct HfWriteOptions {
  TensorDType dtype = TensorDType::F32;
  // 0: one model.safetensors. Otherwise tensors are split into model-0000i-of-0000n.safetensors
  // shards of at most this many data bytes (a larger tensor gets a shard of its own) plus
  // model.safetensors.index.json.
  uint64_t max_shard_bytes = 0;
};

// Writes `weights` as an HF folder (config.json + safetensors), creating `dir` if needed.
// Interleaved (llama2.c) q/k rows and biases are permuted to HF's half-split order exactly as
// transformers' convert_llama_weights_to_hf.py does, so load_hf_directory (HalfSplit RoPE)
// computes the same function. Tied models get no lm_head.weight.
void write_hf_directory(const ModelWeights& weights, const std::string& dir, const HfWriteOptions& options = {});

}  // namespace binq
