// Log-likelihood scoring of multiple-choice items with a LlamaModel, lm-evaluation-harness style:
// tokens(context) + tokens(continuation) where the continuation's tokens are those of
// tokenize(context + continuation) after the context's token count, and the score is the summed
// log p of the continuation tokens.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "binq/eval/tasks.h"
#include "binq/model/llama.h"
#include "binq/tokenizer/tokenizer.h"

namespace binq::eval {

// One choice as token ids: tokens = context ++ continuation.
struct EncodedChoice {
  std::vector<int> tokens;
  int context_len = 0;
};

// The harness' _encode_pair: trailing spaces of the context move to the continuation; the
// continuation's tokens are taken from encoding the whole string, so the tokenizer never sees the
// continuation on its own (no dummy-prefix space or BOS inside it). If the whole string encodes
// to no more tokens than the context (a merge swallowed the continuation), the continuation is
// encoded on its own as a fallback. An empty context becomes [BOS] as the harness uses [EOT].
EncodedChoice encode_pair(const Tokenizer& tok, std::string context, std::string continuation, bool add_bos);

// Left-truncates every choice by the same number of tokens so the longest one fits `max_context`
// model positions (its last token is never fed). Returns whether anything was cut. When a
// continuation alone does not fit, its first tokens are cut as well and only its tail is scored
// (after at least one context token).
bool truncate_left(std::vector<EncodedChoice>& choices, int max_context);

// Scores items with one KV cache. Tokens already in the cache from the previous item are
// reused (the longest common prefix), so few-shot prefixes and shared contexts are run once.
class ScoreWorker {
 public:
  ScoreWorker(const LlamaModel& model, int capacity);
  // Summed log p(continuation) of each choice. All choices must fit `capacity` positions.
  std::vector<double> score(const std::vector<EncodedChoice>& choices);
  int64_t tokens_forwarded() const { return tokens_forwarded_; }

 private:
  const LlamaModel& model_;
  int capacity_;
  KVCache cache_;
  std::vector<int> cached_;  // tokens whose keys/values are valid at positions 0..size-1
  std::vector<float> last_logits_, logits_;
  int64_t tokens_forwarded_ = 0;
};

struct ScoreOptions {
  int max_context = 0;        // 0: the model's max_seq_len
  bool add_bos = false;       // the harness adds no BOS for LLaMA tokenizers
  bool parallel_items = true; // OpenMP threads over items (each its own cache) vs model threads
  bool progress = true;
};

struct TaskResult {
  std::string name, paper_metric;
  int64_t n = 0;
  double acc = 0, acc_stderr = 0, acc_norm = 0, acc_norm_stderr = 0;
  double seconds = 0;
  int64_t truncated = 0;       // items left-truncated to the model context
  int64_t tokens_forwarded = 0;
  std::vector<uint8_t> correct, correct_norm;  // per item, in task order
  double paper_value() const { return paper_metric == "acc_norm" ? acc_norm : acc; }
};

class Evaluator {
 public:
  Evaluator(const LlamaModel& model, const Tokenizer& tok, ScoreOptions options);
  int max_context() const { return max_context_; }
  // Tokens of a context as the scorer will encode it (for MMLU's shot dropping).
  int count_context_tokens(const std::string& context) const;
  // Log-likelihoods of every choice of every item (first `limit` items; limit <= 0: all).
  std::vector<std::vector<double>> score_items(const McTask& task, int64_t limit, TaskResult* stats) const;
  // Scores the task and computes acc / acc_norm with their standard errors.
  TaskResult run(const McTask& task, int64_t limit) const;

 private:
  const LlamaModel& model_;
  const Tokenizer& tok_;
  ScoreOptions options_;
  int max_context_;
};

}  // namespace binq::eval
