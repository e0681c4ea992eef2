#include "cli/model_loading.h"

#include <cblas.h>
#include <omp.h>

#include "binq/core/error.h"
#include "binq/io/checkpoint.h"
#include "binq/quant/quantized_model.h"

#include <unistd.h>

#include <cstdio>

extern "C" void openblas_set_num_threads(int);

namespace binq::cli {

void set_threads(int threads) {
  if (threads < 0) fail("-t/--threads must be >= 0 (got {})", threads);
  if (threads == 0) return;
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

namespace {

// The tokenizer loaders read files; an embedded tokenizer goes through a private temporary file.
std::unique_ptr<Tokenizer> load_embedded_tokenizer(const std::string& bytes, int vocab_size, const std::string& model_path) {
  char tmpl[] = "/tmp/binq-tokenizer-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) fail("{}: cannot create a temporary file for the embedded tokenizer", model_path);
  bool ok = ::write(fd, bytes.data(), bytes.size()) == ssize_t(bytes.size());
  ::close(fd);
  try {
    if (!ok) fail("{}: cannot write the embedded tokenizer to {}", model_path, tmpl);
    auto tok = load_tokenizer(tmpl, vocab_size);
    std::remove(tmpl);
    return tok;
  } catch (...) {
    std::remove(tmpl);
    throw;
  }
}

}  // namespace

LoadedModel open_model(const std::string& model_path, const std::string& tokenizer_path,
                       bool need_tokenizer, bool simulate, LinearLoading linears) {
  LoadedModel out;
  if (is_binq_file(model_path)) {
    LoadedBinq b = load_binq(model_path, simulate ? BinqRuntime::Simulated : BinqRuntime::Bitwise);
    out.model = b.model;
    out.size_bytes = b.file_bytes;
    out.quantized = true;
    const ModelConfig& c = out.model->config();
    if (!tokenizer_path.empty()) {
      out.tokenizer = load_tokenizer(tokenizer_path, c.vocab_size);
    } else if (!b.tokenizer_bytes.empty()) {
      out.tokenizer = load_embedded_tokenizer(b.tokenizer_bytes, c.vocab_size, model_path);
    } else if (need_tokenizer) {
      fail("{}: the file embeds no tokenizer; pass --tokenizer PATH", model_path);
    }
    out.description = model_path + " (" + c.summary() + ", " + b.header["quant"].value("method", "quantized") +
                      (simulate ? ", simulated" : ", bitwise") + ")";
    return out;
  }
  auto weights = load_checkpoint(model_path, linears);
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
  cmd->add_flag("--simulate", simulate, ".binq only: dequantized weights x fake-quantized activations instead of the bitwise kernels");
}

LoadedModel ModelOptions::open(bool need_tokenizer) const { return open_model(model, tokenizer, need_tokenizer, simulate); }

}  // namespace binq::cli
