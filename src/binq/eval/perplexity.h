// Perplexity in the two protocols quantization papers and llama.cpp users quote (method.md §8).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "binq/model/llama.h"

namespace binq {

enum class PplProtocol {
  Paper,     // GPTQ lineage: non-overlapping windows of ctx, every next-token prediction scored
  LlamaCpp,  // llama.cpp: windows of ctx (512) with BOS first, only the second half scored
};
const char* protocol_name(PplProtocol p);
PplProtocol parse_protocol(const std::string& name);  // "paper" | "llamacpp"

struct PerplexityOptions {
  PplProtocol protocol = PplProtocol::Paper;
  int ctx = 0;  // 0: paper -> min(2048, model context); llamacpp -> 512
  // Called after every window: windows done, windows total, running ppl.
  std::function<void(int, int, double)> progress;
};

struct PerplexityResult {
  double ppl = 0;
  double ppl_stderr = 0;  // ppl * stderr(mean NLL), as llama.cpp reports it
  double mean_nll = 0;
  int64_t tokens_scored = 0;
  int64_t tokens_total = 0;
  int windows = 0;
  int ctx = 0;
  PplProtocol protocol = PplProtocol::Paper;
  double seconds = 0;
};

// `tokens` is the whole tokenized text starting with its single BOS.
PerplexityResult compute_perplexity(const LlamaModel& model, const std::vector<int>& tokens,
                                    const PerplexityOptions& options, int bos_id);

// Named datasets in <shared>/data, joined into one text as method.md §8 says:
//   wikitext2 (raw test), ptb (test), c4 (validation subset), tinystories (validation part).
std::vector<std::string> perplexity_dataset_names();
std::string load_perplexity_dataset(const std::string& name, const std::string& data_dir);

}  // namespace binq
