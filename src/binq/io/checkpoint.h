// Loading floating-point checkpoints into ModelWeights.
#pragma once
#include <memory>
#include <string>

#include "binq/model/weights.h"

namespace binq {

// What a loader reads of the decoder blocks' linear layers (nearly all of a model's bytes).
enum class LinearLoading {
  Resident,  // everything, up front (F16/BF16 converted to FP32): what inference needs
  PerBlock,  // shapes only; ModelWeights::linear_source reads, converts and checks one block
             // at a time (block_linears), and releases it after: what quantization needs
};

// llama2.c checkpoint: legacy header (7 x int32, negative vocab = separate classifier) or the
// versioned v1 float32 export (magic "ak42", version 1); layouts in io/llama2c.h. Tensors point
// into the memory map; the file size must match the header exactly.
std::shared_ptr<ModelWeights> load_llama2c(const std::string& path, LinearLoading linears = LinearLoading::Resident);

// Hugging Face directory: config.json + model.safetensors or model.safetensors.index.json.
// F32 tensors are used in place; F16/BF16 are converted to owned FP32 buffers.
std::shared_ptr<ModelWeights> load_hf_directory(const std::string& dir, LinearLoading linears = LinearLoading::Resident);

// Dispatch on the path: a directory is HF, a file is llama2.c.
std::shared_ptr<ModelWeights> load_checkpoint(const std::string& path, LinearLoading linears = LinearLoading::Resident);

// What every loader above runs before returning: weights.validate() (pointers and shapes), then
// a scan refusing NaN/Inf values with an error naming the tensor. Public so other loaders (and
// writers fed by untrusted data) can apply the same gate.
void check_loaded_weights(const ModelWeights& weights);

}  // namespace binq
