// The FP32 engine against the independent golden reference for stories260K (greedy from BOS).
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "binq/core/mapped_file.h"
#include "binq/io/checkpoint.h"
#include "binq/model/llama.h"
#include "binq/model/sampler.h"
#include "common/test_util.h"

namespace binq {
namespace {

struct Golden {
  std::vector<int> ids;
  std::vector<std::vector<std::pair<int, float>>> top5;  // positions 0..2
};

Golden read_golden() {
  Golden g;
  std::istringstream in(read_text_file(test::shared("models/stories260K/greedy_reference_256steps.txt")));
  std::string line;
  const std::regex pair_re(R"(\((\d+), (-?[0-9.]+)\))");
  while (std::getline(in, line)) {
    if (line.rfind("# token ids:", 0) == 0) {
      std::istringstream ids(line.substr(12));
      for (int id; ids >> id;) g.ids.push_back(id);
    } else if (line.rfind("# pos ", 0) == 0) {
      std::vector<std::pair<int, float>> row;
      for (std::sregex_iterator it(line.begin(), line.end(), pair_re), end; it != end; ++it)
        row.emplace_back(std::stoi((*it)[1]), std::stof((*it)[2]));
      g.top5.push_back(row);
    }
  }
  return g;
}

TEST(StoriesGolden, GreedyDecodingMatchesReference) {
  Golden g = read_golden();
  ASSERT_EQ(g.ids.size(), 256u);
  ASSERT_EQ(g.top5.size(), 3u);
  LlamaModel model(load_llama2c(test::stories_model()));
  const int vocab = model.config().vocab_size;
  KVCache cache = model.new_cache(model.config().max_seq_len);
  std::vector<float> logits(vocab);
  int token = 1;  // BOS
  for (size_t pos = 0; pos < g.ids.size(); ++pos) {
    model.forward(&token, 1, int(pos), cache, logits.data(), false);
    if (pos < g.top5.size()) {
      for (auto [id, value] : g.top5[pos]) EXPECT_NEAR(logits[id], value, 1e-4) << "pos " << pos << " id " << id;
      // The reference's ordering must also be ours.
      std::vector<int> order(vocab);
      for (int i = 0; i < vocab; ++i) order[i] = i;
      std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                        [&](int a, int b) { return logits[a] > logits[b]; });
      for (int k = 0; k < 5; ++k) EXPECT_EQ(order[k], g.top5[pos][k].first) << "pos " << pos << " rank " << k;
    }
    token = argmax(logits.data(), vocab);
    ASSERT_EQ(token, g.ids[pos]) << "first divergence at step " << pos;
  }
}

// Batched prefill must give the same logits as token-by-token decoding through the KV cache.
TEST(StoriesGolden, PrefillEqualsIncrementalDecoding) {
  Golden g = read_golden();
  LlamaModel model(load_llama2c(test::stories_model()));
  const int vocab = model.config().vocab_size, n = 64;
  std::vector<int> tokens = {1};
  tokens.insert(tokens.end(), g.ids.begin(), g.ids.begin() + n - 1);
  KVCache batch_cache = model.new_cache(n), step_cache = model.new_cache(n);
  std::vector<float> all(size_t(n) * vocab), one(vocab);
  model.forward(tokens.data(), n, 0, batch_cache, all.data(), true);
  for (int i = 0; i < n; ++i) {
    model.forward(&tokens[i], 1, i, step_cache, one.data(), false);
    for (int v = 0; v < vocab; ++v) ASSERT_NEAR(all[size_t(i) * vocab + v], one[v], 1e-4) << "pos " << i;
  }
}

}  // namespace
}  // namespace binq
