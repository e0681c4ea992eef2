// `binq quantize` as a function: its flags, and one run (quantize -> write .binq -> optionally
// evaluate the written file). `binq report` parses each row's flags with the very same code, so
// the command lines printed in docs/results.md reproduce its numbers exactly.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "binq/quant/pipeline.h"
#include "cli/command.h"

namespace binq::cli {

struct QuantizeCmd {
  std::string model, tokenizer, out;
  int threads = 0;
  // Flags kept as strings / ints here and validated by to_options (messages name the flag).
  std::string method = "bwa", cluster = "em", compensation = "block", balance, calib_runtime = "simulated";
  QuantizeOptions q;
  bool no_bitmap = false, no_hessian_weight = false, no_min_distance = false;
  std::vector<std::string> eval_datasets;
  int eval_windows = 0;  // 0 = the whole text
  std::string data_dir;
  bool json = false;

  void add_to(CLI::App* cmd);
  QuantizeOptions to_options() const;
};

struct EvalResult {
  std::string dataset;
  double ppl = 0;
  int windows = 0, ctx = 0;
  int64_t tokens_scored = 0;
  double seconds = 0;
};

struct QuantizeResult {
  nlohmann::json recipe;
  double bits_per_weight = 0;      // linear layers, everything stored (see linear_bits_per_weight)
  double file_bits_per_param = 0;  // file bytes * 8 / all parameters (embeddings, head included)
  int64_t file_bytes = 0;
  double quantize_seconds = 0;
  std::vector<EvalResult> evals;
};

// Caches shared across runs of one process (binq report): tokenized calibration and eval texts.
struct TextCache {
  std::map<std::string, std::vector<int>> tokens;
};

// Loads the model, quantizes, writes `out`, evaluates the written file if asked. `log` gets
// progress lines (stderr in the CLI).
QuantizeResult run_quantize(const QuantizeCmd& cmd, TextCache* cache = nullptr);

// Paper-protocol perplexity of the first `max_windows` windows (0 = all) of a named dataset.
EvalResult evaluate_dataset(const LlamaModel& model, const Tokenizer& tok, const std::string& dataset,
                            const std::string& data_dir, int max_windows, TextCache* cache);

}  // namespace binq::cli
