// Opening whatever `--model` names (llama2.c file, HF directory, later .binq) plus its tokenizer.
#pragma once
#include <memory>
#include <string>

#include "binq/io/checkpoint.h"
#include "binq/model/llama.h"
#include "binq/tokenizer/tokenizer.h"
#include "cli/command.h"

namespace binq::cli {

struct LoadedModel {
  std::shared_ptr<LlamaModel> model;
  std::unique_ptr<Tokenizer> tokenizer;  // null only when not requested and none found
  std::string description;               // one line for logs
  int64_t size_bytes = 0;                // bytes of the model file (.binq) or of its FP32 weights
  bool quantized = false;
};

// Fails with a clear message when the tokenizer is required but none is given or found.
// A .binq file runs on the bitwise kernels unless `simulate` (dequantized weights, fake-quantized
// activations); its embedded tokenizer is used unless tokenizer_path is given.
// `linears` applies to float checkpoints (binq quantize loads them PerBlock).
LoadedModel open_model(const std::string& model_path, const std::string& tokenizer_path,
                       bool need_tokenizer = true, bool simulate = false,
                       LinearLoading linears = LinearLoading::Resident);

// Adds the options every model-consuming command shares.
struct ModelOptions {
  std::string model;
  std::string tokenizer;
  int threads = 0;
  bool simulate = false;
  void add_to(CLI::App* cmd);
  LoadedModel open(bool need_tokenizer = true) const;
};

}  // namespace binq::cli
