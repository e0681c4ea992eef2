#include "binq/eval/perplexity.h"

#include <chrono>
#include <cmath>

#include "binq/core/error.h"

namespace binq {

const char* protocol_name(PplProtocol p) { return p == PplProtocol::Paper ? "paper" : "llamacpp"; }

PplProtocol parse_protocol(const std::string& name) {
  if (name == "paper") return PplProtocol::Paper;
  if (name == "llamacpp") return PplProtocol::LlamaCpp;
  fail("--protocol: unknown protocol '{}' (expected paper or llamacpp)", name);
}

PerplexityResult compute_perplexity(const LlamaModel& model, const std::vector<int>& tokens,
                                    const PerplexityOptions& options, int bos_id) {
  const ModelConfig& c = model.config();
  PerplexityResult r;
  r.protocol = options.protocol;
  r.ctx = options.ctx > 0 ? options.ctx
                          : (options.protocol == PplProtocol::Paper ? std::min(2048, c.max_seq_len) : 512);
  if (r.ctx > c.max_seq_len)
    fail("--ctx {} exceeds the model context {}", r.ctx, c.max_seq_len);
  if (r.ctx < 2 || (options.protocol == PplProtocol::LlamaCpp && r.ctx < 4))
    fail("--ctx {} is too small", r.ctx);
  r.tokens_total = int64_t(tokens.size());
  r.windows = int(tokens.size() / size_t(r.ctx));  // the tail shorter than ctx is dropped
  if (r.windows == 0)
    fail("text has {} tokens, fewer than one window of {}", tokens.size(), r.ctx);

  // Paper: a window predicts its tokens 1..ctx-1 from the ones before (GPTQ's shifted loss).
  // llama.cpp: the first token becomes BOS and predictions of tokens ctx/2+1..ctx-1 count.
  const int first = options.protocol == PplProtocol::Paper ? 0 : r.ctx / 2;
  const int vocab = c.vocab_size;
  auto start = std::chrono::steady_clock::now();
  double sum = 0, sum_sq = 0;
  std::vector<float> logits(size_t(r.ctx) * vocab);
  std::vector<int> window(r.ctx);
  KVCache cache = model.new_cache(r.ctx);
  for (int w = 0; w < r.windows; ++w) {
    std::copy_n(tokens.begin() + size_t(w) * r.ctx, r.ctx, window.begin());
    if (options.protocol == PplProtocol::LlamaCpp) window[0] = bos_id;
    model.forward(window.data(), r.ctx, 0, cache, logits.data(), /*all_logits=*/true);
    for (int i = first; i < r.ctx - 1; ++i) {
      double nll = -log_prob_of(&logits[size_t(i) * vocab], vocab, window[i + 1]);
      sum += nll;
      sum_sq += nll * nll;
      ++r.tokens_scored;
    }
    if (options.progress) options.progress(w + 1, r.windows, std::exp(sum / r.tokens_scored));
  }
  const double n = double(r.tokens_scored);
  r.mean_nll = sum / n;
  r.ppl = std::exp(r.mean_nll);
  double var = n > 1 ? std::max(0.0, (sum_sq / n - r.mean_nll * r.mean_nll) * n / (n - 1)) : 0.0;
  r.ppl_stderr = r.ppl * std::sqrt(var / n);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace binq
