// Linears reading one activation run as a group (LlamaModel::run_linears, Linear::forward_group):
// the groups the model forms, the hook order, and that BitwiseLinears sharing a permutation give
// exactly what they give one at a time.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "binq/io/checkpoint.h"
#include "binq/kernels/dispatch.h"
#include "binq/kernels/synthetic_layer.h"
#include "binq/quant/bitwise_linear.h"
#include "binq/quant/quantized_model.h"
#include "common/isa_test.h"
#include "common/test_util.h"

namespace binq {
namespace {

// Delegates to `inner`; shares input work with Spies of the same key and logs group sizes.
class Spy : public Linear {
 public:
  Spy(std::shared_ptr<const Linear> inner, int key, std::vector<int>* log) : inner_(std::move(inner)), key_(key), log_(log) {}
  int in_features() const override { return inner_->in_features(); }
  int out_features() const override { return inner_->out_features(); }
  void forward(const float* x, int n, float* y) const override { inner_->forward(x, n, y); }
  std::string describe() const override { return "spy"; }
  bool can_share_input(const Linear& other) const override {
    const auto* s = dynamic_cast<const Spy*>(&other);
    return s && s->key_ == key_;
  }
  void forward_group(const float* x, int n, std::span<const Linear* const> group,
                     std::span<float* const> ys) const override {
    log_->push_back(int(group.size()));
    Linear::forward_group(x, n, group, ys);
  }

 private:
  std::shared_ptr<const Linear> inner_;
  int key_;
  std::vector<int>* log_;
};

// Delegates to `inner` but shares nothing: the one-at-a-time reference.
class Alone : public Linear {
 public:
  explicit Alone(std::shared_ptr<const Linear> inner) : inner_(std::move(inner)) {}
  int in_features() const override { return inner_->in_features(); }
  int out_features() const override { return inner_->out_features(); }
  void forward(const float* x, int n, float* y) const override { inner_->forward(x, n, y); }
  std::string describe() const override { return inner_->describe(); }

 private:
  std::shared_ptr<const Linear> inner_;
};

// Prefill of 5 tokens, then 3 single-token decode steps: all logits.
std::vector<float> run(const LlamaModel& m) {
  const int vocab = m.config().vocab_size;
  const std::vector<int> tokens = {1, 403, 407, 261, 378, 432, 383, 286};
  std::vector<float> logits(tokens.size() * vocab);
  KVCache cache = m.new_cache(int(tokens.size()));
  m.forward(tokens.data(), 5, 0, cache, logits.data(), true);
  for (int t = 5; t < int(tokens.size()); ++t) m.forward(&tokens[t], 1, t, cache, logits.data() + size_t(t) * vocab, true);
  for (float v : logits) EXPECT_TRUE(std::isfinite(v));
  return logits;
}

TEST(SharedInput, ModelGroupsByShareClassAndKeepsHookOrder) {
  auto w = load_llama2c(test::stories_model());
  LlamaModel plain(w), spied(w);
  std::vector<int> log;
  std::vector<std::pair<int, LinearKind>> hooked;
  // Keys per kind: q and v share, k does not (a group need not be contiguous); gate/up share.
  const int keys[kLinearKinds] = {1, 2, 1, 3, 4, 4, 5};
  for (int l = 0; l < w->config.n_layers; ++l)
    for (int k = 0; k < kLinearKinds; ++k)
      spied.set_linear({l, LinearKind(k)}, std::make_shared<Spy>(std::make_shared<DenseLinear>(w->layers[l].linear[k]),
                                                                 keys[k], &log));
  spied.set_input_hook([&](LinearId id, const float*, int, int) { hooked.emplace_back(id.layer, id.kind); });
  const std::vector<float> a = run(plain), b = run(spied);
  ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  const int calls = 4 * w->config.n_layers;  // forward calls x layers
  ASSERT_EQ(log.size(), size_t(calls) * 5);
  for (size_t i = 0; i < log.size(); i += 5) EXPECT_EQ(std::vector<int>(log.begin() + i, log.begin() + i + 5),
                                                       (std::vector<int>{2, 1, 1, 2, 1}));
  ASSERT_EQ(hooked.size(), size_t(calls) * kLinearKinds);
  for (size_t i = 0; i < hooked.size(); ++i) EXPECT_EQ(int(hooked[i].second), int(i % kLinearKinds));
}

// stories260K with random W(1+1) layers; q/k/v share one permutation and gate/up another, as
// the quantizer makes them. `alone` wraps every linear so that nothing is shared.
std::shared_ptr<LlamaModel> bitwise_stories(const ActivationRecipe& act, bool alone) {
  auto w = load_llama2c(test::stories_model());
  auto m = std::make_shared<LlamaModel>(w);
  m->set_kv_bits(4);
  uint64_t seed = 11;
  for (int l = 0; l < w->config.n_layers; ++l)
    for (const auto& group : linear_groups()) {
      std::vector<int32_t> perm;
      for (LinearKind kind : group) {
        const MatrixView& mv = w->layers[l].linear[int(kind)];
        BinaryLinearParams p = random_binary_layer(mv.rows, mv.cols, 8, 16, seed++);
        if (perm.empty()) perm = p.perm;
        p.perm = perm;
        auto lin = make_binary_linear(p, act, BinqRuntime::Bitwise);
        m->set_linear({l, kind}, alone ? std::make_shared<Alone>(lin) : lin);
      }
    }
  return m;
}

using SharedInputIsa = test::IsaTest;
BINQ_INSTANTIATE_PER_ISA(SharedInputIsa);

TEST_P(SharedInputIsa, BitwiseGroupEqualsOneAtATime) {
  ActivationRecipe act;
  act.config.balance = Balance::Paper;
  const auto grouped = bitwise_stories(act, false), alone = bitwise_stories(act, true);
  const auto& q = dynamic_cast<const BitwiseLinear&>(grouped->linear({0, LinearKind::Q}));
  EXPECT_TRUE(q.can_share_input(grouped->linear({0, LinearKind::V})));
  EXPECT_FALSE(q.can_share_input(grouped->linear({0, LinearKind::O})));      // another perm
  EXPECT_FALSE(q.can_share_input(grouped->linear({0, LinearKind::Gate})));   // another perm
  EXPECT_FALSE(q.can_share_input(alone->linear({0, LinearKind::K})));        // not a BitwiseLinear
  force_isa(GetParam());
  const std::vector<float> a = run(*alone), b = run(*grouped);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  reset_isa();
  // Same perm, other activation recipe: nothing to share.
  ActivationRecipe lsq = act;
  lsq.config.balance = Balance::LeastSquares;
  const auto other = bitwise_stories(lsq, false);
  EXPECT_FALSE(q.can_share_input(other->linear({0, LinearKind::K})));
}

}  // namespace
}  // namespace binq
