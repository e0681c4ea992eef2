// End-to-end check of the RoPE conventions: a llama2.c model (interleaved pairs) written as a
// Hugging Face folder (q/k rows permuted, half-split pairs) must compute the same logits with
// the FP32 engine, and the reverse trip (HF -> llama2.c) must too.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "binq/io/checkpoint.h"
#include "binq/io/llama2c.h"
#include "binq/io/safetensors_writer.h"
#include "binq/model/llama.h"
#include "common/test_util.h"
#include "io_fixtures.h"

namespace binq {
namespace {

std::vector<float> run(std::shared_ptr<const ModelWeights> w, const std::vector<int>& tokens) {
  LlamaModel model(std::move(w));
  KVCache cache = model.new_cache(int(tokens.size()));
  std::vector<float> logits(tokens.size() * size_t(model.config().vocab_size));
  model.forward(tokens.data(), int(tokens.size()), 0, cache, logits.data());
  return logits;
}

std::vector<int> random_tokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int> t = {1};
  while (int(t.size()) < n) t.push_back(std::uniform_int_distribution<int>(0, vocab - 1)(rng));
  return t;
}

void expect_logits_close(const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  size_t bad = 0;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double err = std::fabs(double(a[i]) - b[i]) / std::max(1.0, std::fabs(double(a[i])));
    worst = std::max(worst, err);
    bad += !(err <= 1e-5);
  }
  EXPECT_EQ(bad, 0u) << "worst relative error " << worst;
  // Not trivially equal because nothing ran: the logits must vary.
  EXPECT_NE(*std::min_element(a.begin(), a.end()), *std::max_element(a.begin(), a.end()));
}

TEST(HfEquivalence, StoriesAsHfFolderGivesTheSameLogits) {
  auto stories = load_llama2c(test::stories_model());
  const std::string dir = test::temp_dir("hf-eq");
  write_hf_directory(*stories, dir);
  auto hf = load_hf_directory(dir);
  ASSERT_EQ(hf->config.rope_style, RopeStyle::HalfSplit);
  const auto tokens = random_tokens(48, stories->config.vocab_size, 1);
  expect_logits_close(run(stories, tokens), run(hf, tokens));
}

// Guards the test above: without the q/k permutation the HF folder computes something else.
TEST(HfEquivalence, SkippingThePermutationChangesTheLogits) {
  auto stories = load_llama2c(test::stories_model());
  auto wrong = std::make_shared<ModelWeights>(*stories);
  wrong->config.rope_style = RopeStyle::HalfSplit;  // same rows, other pairing
  const auto tokens = random_tokens(16, stories->config.vocab_size, 2);
  const auto a = run(stories, tokens), b = run(wrong, tokens);
  double diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = std::max(diff, std::fabs(double(a[i]) - b[i]));
  EXPECT_GT(diff, 1e-2);
}

TEST(HfEquivalence, BiasedGqaModelThroughHfAndBackThroughLlama2c) {
  ModelConfig c = test::tiny_config();
  c.qkv_bias = true;
  c.arch = "qwen2";
  auto original = test::random_weights(c, 17);
  const std::string dir = test::temp_dir("hf-eq-bias");
  write_hf_directory(*original, dir + "/hf");
  auto hf = load_hf_directory(dir + "/hf");
  const auto tokens = random_tokens(12, c.vocab_size, 3);
  const auto expected = run(original, tokens);
  expect_logits_close(expected, run(hf, tokens));

  // HF (half-split) -> llama2.c (interleaved) needs the inverse permutation; biases cannot go.
  ModelConfig plain = test::tiny_config();
  auto hf_plain_src = test::random_weights(plain, 18);
  write_hf_directory(*hf_plain_src, dir + "/plain");
  auto hf_plain = load_hf_directory(dir + "/plain");
  write_llama2c(*hf_plain, dir + "/plain.bin", Llama2cFormat::V1);
  auto back = load_llama2c(dir + "/plain.bin");
  ASSERT_EQ(back->config.rope_style, RopeStyle::Interleaved);
  expect_logits_close(run(hf_plain, tokens), run(back, tokens));
  expect_logits_close(run(hf_plain_src, tokens), run(back, tokens));
}

}  // namespace
}  // namespace binq
