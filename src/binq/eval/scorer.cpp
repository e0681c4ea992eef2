#include "binq/eval/scorer.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>

#include "binq/core/error.h"
#include "binq/eval/metrics.h"
#include "binq/eval/progress.h"

namespace binq::eval {

EncodedChoice encode_pair(const Tokenizer& tok, std::string context, std::string continuation, bool add_bos) {
  size_t keep = context.find_last_not_of(' ');
  keep = keep == std::string::npos ? 0 : keep + 1;
  if (keep < context.size()) {
    continuation = context.substr(keep) + continuation;
    context.resize(keep);
  }
  EncodedChoice out;
  std::vector<int> ctx = context.empty() ? std::vector<int>{tok.bos_id()} : tok.encode(context, add_bos);
  std::vector<int> whole = tok.encode(context + continuation, add_bos || context.empty());
  std::vector<int> cont;
  if (whole.size() > ctx.size()) {
    cont.assign(whole.begin() + ctx.size(), whole.end());
  } else {
    cont = tok.encode(continuation, false);
  }
  if (cont.empty()) fail("continuation '{}' encodes to no tokens", continuation);
  out.context_len = int(ctx.size());
  out.tokens = std::move(ctx);
  out.tokens.insert(out.tokens.end(), cont.begin(), cont.end());
  return out;
}

bool truncate_left(std::vector<EncodedChoice>& choices, int max_context) {
  size_t longest = 0;
  for (const auto& c : choices) longest = std::max(longest, c.tokens.size());
  // The last token is only predicted, never fed: max_context + 1 tokens fit.
  if (longest <= size_t(max_context) + 1) return false;
  const int cut = int(longest - (size_t(max_context) + 1));
  for (auto& c : choices) {
    const int c_cut = std::min(cut, int(c.tokens.size()) - 2);
    c.tokens.erase(c.tokens.begin(), c.tokens.begin() + c_cut);
    // A continuation longer than the window (long PIQA solutions with a small-vocabulary
    // tokenizer and a 512-token model) loses its first tokens too: one token is kept as context
    // and only the tail of the continuation is scored. Choices cut less keep more context.
    c.context_len = std::max(1, c.context_len - c_cut);
  }
  return true;
}

ScoreWorker::ScoreWorker(const LlamaModel& model, int capacity)
    : model_(model), capacity_(capacity), cache_(model.new_cache(capacity)) {}

std::vector<double> ScoreWorker::score(const std::vector<EncodedChoice>& choices) {
  const int vocab = model_.config().vocab_size;
  if (choices.empty()) return {};
  // L: the prefix shared by all choices and inside every context; it is run once.
  size_t shared = choices[0].tokens.size();
  for (const auto& c : choices) {
    if (c.tokens.size() > size_t(capacity_) + 1)
      fail("internal: a choice of {} tokens exceeds the cache of {} positions", c.tokens.size(), capacity_);
    size_t k = 0;
    while (k < shared && k < c.tokens.size() && c.tokens[k] == choices[0].tokens[k]) ++k;
    shared = std::min({shared, k, size_t(c.context_len)});
  }
  const std::vector<int>& first = choices[0].tokens;
  // Reuse what the cache already holds, but run at least the last shared token: its logits
  // predict the first continuation token and are not kept between items.
  // shared == 0 (choices differ from their first token, e.g. a WinoGrande blank at the start):
  // every choice runs from position 0 and nothing is kept.
  cached_.resize(std::min(cached_.size(), shared));
  if (shared > 0) {
    size_t reuse = 0;
    while (reuse < cached_.size() && cached_[reuse] == first[reuse]) ++reuse;
    reuse = std::min(reuse, shared - 1);
    last_logits_.resize(vocab);
    model_.forward(first.data() + reuse, int(shared - reuse), int(reuse), cache_, last_logits_.data(), false);
    tokens_forwarded_ += int64_t(shared - reuse);
  }
  cached_.assign(first.begin(), first.begin() + shared);

  std::vector<double> out;
  for (const auto& c : choices) {
    // Positions shared .. size-2 are fed; the row of position p predicts token p + 1.
    const int rest = int(c.tokens.size()) - 1 - int(shared);
    if (rest > 0) {
      logits_.resize(size_t(rest) * vocab);
      model_.forward(c.tokens.data() + shared, rest, int(shared), cache_, logits_.data(), true);
      tokens_forwarded_ += rest;
    }
    double sum = 0;
    for (size_t j = size_t(c.context_len); j < c.tokens.size(); ++j) {
      const size_t p = j - 1;  // position whose logits predict token j
      const float* row = p + 1 == shared ? last_logits_.data() : logits_.data() + (p - shared) * vocab;
      sum += log_prob_of(row, vocab, c.tokens[j]);
    }
    out.push_back(sum);
  }
  return out;
}

Evaluator::Evaluator(const LlamaModel& model, const Tokenizer& tok, ScoreOptions options)
    : model_(model), tok_(tok), options_(options) {
  max_context_ = options.max_context > 0 ? options.max_context : model.config().max_seq_len;
  if (max_context_ < 2) fail("model context of {} tokens is too small to score anything", max_context_);
}

int Evaluator::count_context_tokens(const std::string& context) const {
  return int(tok_.encode(context, options_.add_bos).size());
}

std::vector<std::vector<double>> Evaluator::score_items(const McTask& task, int64_t limit,
                                                        TaskResult* stats) const {
  const int64_t n = limit > 0 ? std::min<int64_t>(limit, int64_t(task.items.size())) : int64_t(task.items.size());
  std::vector<std::vector<double>> ll(n);
  std::atomic<int64_t> truncated{0}, forwarded{0};
  Progress progress(task.name, n, options_.progress);
  // Encodes the item's choices (on the worker thread: tokenization is a noticeable share of the
  // work for a model this small).
  auto encode_item = [&](const McItem& item) {
    std::vector<EncodedChoice> enc;
    for (const auto& ch : item.choices) enc.push_back(encode_pair(tok_, ch.context, ch.continuation, options_.add_bos));
    if (truncate_left(enc, max_context_)) ++truncated;
    return enc;
  };
  // Errors inside an OpenMP region cannot propagate; the first one is kept and rethrown.
  std::exception_ptr error;
  std::atomic<bool> failed{false};
  auto body = [&](ScoreWorker& worker, int64_t i) {
    if (failed) return;
    try {
      ll[i] = worker.score(encode_item(task.items[i]));
    } catch (...) {
#pragma omp critical(binq_eval_error)
      if (!error) error = std::current_exception();
      failed = true;
    }
    progress.add();
  };
  if (options_.parallel_items) {
#pragma omp parallel
    {
      ScoreWorker worker(model_, max_context_);
      // Small dynamic chunks keep neighbouring items (same MMLU subject, same few-shot prefix)
      // on one thread so the cached prefix is reused, while balancing uneven item lengths.
#pragma omp for schedule(dynamic, 4)
      for (int64_t i = 0; i < n; ++i) body(worker, i);
      forwarded += worker.tokens_forwarded();
    }
  } else {
    ScoreWorker worker(model_, max_context_);
    for (int64_t i = 0; i < n; ++i) body(worker, i);
    forwarded += worker.tokens_forwarded();
  }
  progress.finish();
  if (error) std::rethrow_exception(error);
  if (stats) {
    stats->truncated = truncated;
    stats->tokens_forwarded = forwarded;
  }
  return ll;
}

TaskResult Evaluator::run(const McTask& task, int64_t limit) const {
  TaskResult r;
  r.name = task.name;
  r.paper_metric = task.paper_metric;
  auto t0 = std::chrono::steady_clock::now();
  auto ll = score_items(task, limit, &r);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.n = int64_t(ll.size());
  for (int64_t i = 0; i < r.n; ++i) {
    const McItem& item = task.items[i];
    std::vector<double> lengths;
    for (const auto& ch : item.choices) lengths.push_back(choice_length(ch.continuation));
    r.correct.push_back(pick_acc(ll[i]) == item.gold);
    r.correct_norm.push_back(pick_acc_norm(ll[i], lengths) == item.gold);
  }
  auto a = mean_stderr(r.correct), an = mean_stderr(r.correct_norm);
  r.acc = a.mean;
  r.acc_stderr = a.stderr_;
  r.acc_norm = an.mean;
  r.acc_norm_stderr = an.stderr_;
  return r;
}

}  // namespace binq::eval
