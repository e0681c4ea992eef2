#include "cli/model_loading.h"

#include <cblas.h>
#include <omp.h>

#include "binq/core/error.h"
#include "binq/io/checkpoint.h"

extern "C" void openblas_set_num_threads(int);

namespace binq::cli {

void set_threads(int threads) {
  if (threads < 0) fail("-t/--threads must be >= 0 (got {})", threads);
  if (threads == 0) return;
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

LoadedModel open_model(const std::string& model_path, const std::string& tokenizer_path,
                       bool need_tokenizer) {
  LoadedModel out;
  auto weights = load_checkpoint(model_path);
  out.model = std::make_shared<LlamaModel>(weights);
  const ModelConfig& c = weights->config;
  std::string tok = tokenizer_path.empty() ? find_tokenizer_for(model_path, c.vocab_size) : tokenizer_path;
  if (!tok.empty()) {
    out.tokenizer = load_tokenizer(tok, c.vocab_size);
    if (out.tokenizer->vocab_size() != c.vocab_size)
      fail("{}: tokenizer has {} tokens but the model {} has a vocabulary of {}", tok,
           out.tokenizer->vocab_size(), model_path, c.vocab_size);
  } else if (need_tokenizer) {
    fail("{}: no tokenizer found next to the model; pass --tokenizer PATH", model_path);
  }
  out.size_bytes = weights->parameter_count() * int64_t(sizeof(float));
  out.description = model_path + " (" + c.summary() + ")";
  return out;
}

void ModelOptions::add_to(CLI::App* cmd) {
  cmd->add_option("-m,--model", model, "llama2.c checkpoint, Hugging Face directory or .binq file")->required();
  cmd->add_option("--tokenizer", tokenizer, "tokenizer.model / tokenizer.json / tokenizer.bin (default: next to the model)");
  cmd->add_option("-t,--threads", threads, "threads (default: all cores)");
}

}  // namespace binq::cli
