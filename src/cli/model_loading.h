// Opening whatever `--model` names (llama2.c file, HF directory, later .binq) plus its tokenizer.
#pragma once
#include <memory>
#include <string>

#include "binq/model/llama.h"
#include "binq/tokenizer/tokenizer.h"
#include "cli/command.h"

namespace binq::cli {

struct LoadedModel {
  std::shared_ptr<LlamaModel> model;
  std::unique_ptr<Tokenizer> tokenizer;  // null only when not requested and none found
  std::string description;               // one line for logs
  int64_t size_bytes = 0;                // bytes of all weights as held for inference
};

// Fails with a clear message when the tokenizer is required but none is given or found.
LoadedModel open_model(const std::string& model_path, const std::string& tokenizer_path,
                       bool need_tokenizer = true);

// Adds the options every model-consuming command shares.
struct ModelOptions {
  std::string model;
  std::string tokenizer;
  int threads = 0;
  void add_to(CLI::App* cmd);
};

}  // namespace binq::cli
