// Scoring with the tiny stories260K model: the KV-reusing scorer must give the same
// log-likelihoods as one full forward pass of context + continuation.
#include <gtest/gtest.h>

#include <cmath>

#include "binq/core/error.h"
#include "binq/eval/metrics.h"
#include "binq/eval/scorer.h"
#include "binq/io/checkpoint.h"
#include "common/test_util.h"

using namespace binq::eval;

namespace {

struct Fixture {
  std::shared_ptr<binq::LlamaModel> model;
  std::unique_ptr<binq::Tokenizer> tok;
};
Fixture& fixture() {
  static Fixture f = [] {
    Fixture x;
    x.model = std::make_shared<binq::LlamaModel>(binq::load_checkpoint(binq::test::stories_model()));
    x.tok = binq::load_tokenizer(binq::test::stories_tokenizer(), x.model->config().vocab_size);
    return x;
  }();
  return f;
}

// Reference: a fresh cache, the whole sequence (minus its last token) in one forward pass.
double direct_loglik(const binq::LlamaModel& m, const EncodedChoice& c) {
  const int vocab = m.config().vocab_size;
  const int n = int(c.tokens.size()) - 1;
  auto cache = m.new_cache(n);
  std::vector<float> logits(size_t(n) * vocab);
  m.forward(c.tokens.data(), n, 0, cache, logits.data(), true);
  double sum = 0;
  for (int j = c.context_len; j <= n; ++j) sum += binq::log_prob_of(logits.data() + size_t(j - 1) * vocab, vocab, c.tokens[j]);
  return sum;
}

std::vector<EncodedChoice> encode(const McItem& item, bool bos = false) {
  std::vector<EncodedChoice> out;
  for (const auto& c : item.choices) out.push_back(encode_pair(*fixture().tok, c.context, c.continuation, bos));
  return out;
}

McItem shared_item(const std::string& ctx, std::vector<std::string> conts, int gold = 0) {
  McItem it;
  for (auto& c : conts) it.choices.push_back({ctx, c});
  it.gold = gold;
  return it;
}

}  // namespace

TEST(Scoring, EncodePairTakesContinuationFromWholeString) {
  const auto& tok = *fixture().tok;
  auto e = encode_pair(tok, "Once upon a time", " there was a cat.", false);
  auto ctx = tok.encode("Once upon a time", false);
  auto whole = tok.encode("Once upon a time there was a cat.", false);
  EXPECT_EQ(e.context_len, int(ctx.size()));
  EXPECT_EQ(std::vector<int>(e.tokens.begin() + e.context_len, e.tokens.end()),
            std::vector<int>(whole.begin() + ctx.size(), whole.end()));
  // Trailing context spaces move into the continuation, as in the harness.
  auto moved = encode_pair(tok, "Once upon a time ", "there was a cat.", false);
  EXPECT_EQ(moved.tokens, e.tokens);
  auto with_bos = encode_pair(tok, "Once upon a time", " there", true);
  EXPECT_EQ(with_bos.tokens[0], tok.bos_id());
}

TEST(Scoring, SharedContextMatchesDirectForward) {
  auto& f = fixture();
  ScoreWorker w(*f.model, f.model->config().max_seq_len);
  auto item = shared_item("Once upon a time, there was a little girl named Lily.",
                          {" She liked to play.", " The dog ran to the park and barked.", " Zebra quantum.", " Yes"});
  for (bool bos : {false, true}) {
    auto enc = encode(item, bos);
    auto ll = w.score(enc);
    ASSERT_EQ(ll.size(), enc.size());
    for (size_t i = 0; i < enc.size(); ++i) {
      EXPECT_NEAR(ll[i], direct_loglik(*f.model, enc[i]), 1e-4) << "choice " << i << " bos " << bos;
      EXPECT_LT(ll[i], 0.0);
    }
  }
}

TEST(Scoring, CacheReuseAcrossItemsMatchesDirectForward) {
  auto& f = fixture();
  ScoreWorker w(*f.model, f.model->config().max_seq_len);
  // Items sharing a long prefix (like MMLU's few-shot block), then an unrelated one, then the
  // first again: each time the worker reuses part of its cache.
  const std::string prefix = "Tom had a big red ball. He played with it every day. ";
  std::vector<McItem> items = {
      shared_item(prefix + "One day, the ball", {" rolled away.", " was sad."}),
      shared_item(prefix + "One day, Tom", {" saw a bird.", " cried."}),
      shared_item("The sun was hot.", {" Lily drank water.", " It rained."}),
      shared_item(prefix + "One day, the ball", {" rolled away.", " was sad."}),
  };
  int64_t before = 0;
  for (size_t k = 0; k < items.size(); ++k) {
    auto enc = encode(items[k]);
    auto ll = w.score(enc);
    for (size_t i = 0; i < enc.size(); ++i)
      EXPECT_NEAR(ll[i], direct_loglik(*f.model, enc[i]), 1e-4) << "item " << k << " choice " << i;
    if (k == 1) {
      // The second item re-ran only its new tokens, not the shared prefix.
      const int64_t ran = w.tokens_forwarded() - before;
      EXPECT_LT(ran, int64_t(enc[0].tokens.size()));
    }
    before = w.tokens_forwarded();
  }
}

TEST(Scoring, DifferentContextsWinograndeStyle) {
  auto& f = fixture();
  ScoreWorker w(*f.model, f.model->config().max_seq_len);
  McItem it;
  it.choices = {{"The cat chased the dog because the cat", " was angry."},
                {"The cat chased the dog because the dog", " was angry."}};
  auto enc = encode(it);
  auto ll = w.score(enc);
  for (size_t i = 0; i < 2; ++i) EXPECT_NEAR(ll[i], direct_loglik(*f.model, enc[i]), 1e-4);
  EXPECT_NE(ll[0], ll[1]);
  // Choices that differ from the very first token (blank at the start of the sentence).
  McItem first;
  first.choices = {{"Lily", " was happy."}, {"Tom", " was happy."}};
  auto enc2 = encode(first);
  ASSERT_NE(enc2[0].tokens[0], enc2[1].tokens[0]);
  auto ll2 = w.score(enc2);
  for (size_t i = 0; i < 2; ++i) EXPECT_NEAR(ll2[i], direct_loglik(*f.model, enc2[i]), 1e-4);
}

TEST(Scoring, LeftTruncationKeepsContinuationAndFitsContext) {
  auto& f = fixture();
  std::string ctx;
  for (int i = 0; i < 20; ++i) ctx += "Lily went to the park and played with her friend. ";
  auto enc = encode(shared_item(ctx, {" She was happy.", " No."}));
  const size_t longest = std::max(enc[0].tokens.size(), enc[1].tokens.size());
  const int max_context = 64;
  ASSERT_GT(longest, size_t(max_context) + 1);
  auto cut = enc;
  EXPECT_TRUE(truncate_left(cut, max_context));
  EXPECT_LE(std::max(cut[0].tokens.size(), cut[1].tokens.size()), size_t(max_context) + 1);
  for (size_t i = 0; i < 2; ++i) {
    // Same continuation tokens, context shortened from the left.
    EXPECT_EQ(std::vector<int>(cut[i].tokens.begin() + cut[i].context_len, cut[i].tokens.end()),
              std::vector<int>(enc[i].tokens.begin() + enc[i].context_len, enc[i].tokens.end()));
    EXPECT_EQ(cut[i].tokens.back(), enc[i].tokens.back());
  }
  ScoreWorker w(*f.model, max_context);
  auto ll = w.score(cut);
  for (size_t i = 0; i < 2; ++i) EXPECT_NEAR(ll[i], direct_loglik(*f.model, cut[i]), 1e-4);
  // A window smaller than the continuation: one context token, the continuation's tail scored.
  auto small = enc;
  EXPECT_TRUE(truncate_left(small, 3));
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_LE(small[i].tokens.size(), 4u);
    EXPECT_GE(small[i].context_len, 1);
    EXPECT_EQ(small[i].tokens.back(), enc[i].tokens.back());
  }
  EXPECT_EQ(small[0].context_len, 1);  // " She was happy." alone is longer than the window
  ScoreWorker tiny(*f.model, 3);
  auto ll_small = tiny.score(small);
  for (size_t i = 0; i < 2; ++i) EXPECT_NEAR(ll_small[i], direct_loglik(*f.model, small[i]), 1e-4);
}

TEST(Metrics, AccAndAccNormDifferWhenLengthsDiffer) {
  // Choice 0: short and likely in total; choice 1: long with a better per-character score.
  McItem it = shared_item("Q:", {" no", " a much longer answer"}, 1);
  std::vector<double> ll = {-3.0, -10.0};
  std::vector<double> lengths = {choice_length(it.choices[0].continuation), choice_length(it.choices[1].continuation)};
  EXPECT_EQ(lengths[0], 2.0);
  EXPECT_EQ(pick_acc(ll), 0);
  EXPECT_EQ(pick_acc_norm(ll, lengths), 1);  // -10/20 = -0.5 > -3/2 = -1.5
  EXPECT_EQ(pick_acc({-1.0, -1.0}), 0);      // ties: first, like numpy.argmax
  EXPECT_THROW(pick_acc_norm({-1.0}, {1.0, 2.0}), binq::Error);
}

TEST(Metrics, MeanStderrIsSampleStdOverSqrtN) {
  std::vector<uint8_t> c = {1, 0, 1, 1};
  auto m = mean_stderr(c);
  EXPECT_DOUBLE_EQ(m.mean, 0.75);
  EXPECT_NEAR(m.stderr_, std::sqrt(0.75 * 0.25 / 3.0), 1e-12);
  EXPECT_EQ(mean_stderr({1}).stderr_, 0.0);
}

TEST(Evaluator, ItemParallelAndSerialGiveSameResults) {
  auto& f = fixture();
  McTask task{"toy", "acc_norm", {}};
  const char* ctxs[] = {"Lily saw a cat.", "Tom went home.", "The sky was blue.", "Ben had a toy car."};
  for (int k = 0; k < 12; ++k)
    task.items.push_back(shared_item(ctxs[k % 4], {" She smiled.", " It was a big day for everyone.", " No."}, k % 3));
  ScoreOptions par;
  par.progress = false;
  ScoreOptions ser = par;
  ser.parallel_items = false;
  auto a = Evaluator(*f.model, *f.tok, par).score_items(task, 0, nullptr);
  auto b = Evaluator(*f.model, *f.tok, ser).score_items(task, 0, nullptr);
  ASSERT_EQ(a.size(), 12u);
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < a[i].size(); ++j) EXPECT_NEAR(a[i][j], b[i][j], 1e-4);
  auto r = Evaluator(*f.model, *f.tok, par).run(task, 5);
  EXPECT_EQ(r.n, 5);
  EXPECT_EQ(r.correct.size(), 5u);
  EXPECT_GE(r.acc, 0.0);
  EXPECT_LE(r.acc, 1.0);
}
