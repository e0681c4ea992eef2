#include "binq/quant/baselines.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "binq/core/error.h"
#include "binq/quant/gptq.h"
#include "quant/quant_fixtures.h"

namespace binq {
namespace {

using test::make_layer;
using test::output_error;

const test::SyntheticLayer& layer() {
  static const test::SyntheticLayer L = make_layer(48, 256, 2048, 43);
  return L;
}

TEST(Rtn, GridAndErrorShrinkWithBits) {
  const auto& L = layer();
  double prev = INFINITY;
  for (int bits : {1, 2, 4, 8}) {
    auto Q = rtn_quantize(L.W.data(), L.out, L.in, bits);
    for (int j = 0; j < L.out; ++j) {
      std::set<float> distinct(Q.begin() + size_t(j) * L.in, Q.begin() + size_t(j + 1) * L.in);
      EXPECT_LE(int(distinct.size()), 1 << bits) << "row " << j;
    }
    double err = 0;
    for (size_t i = 0; i < Q.size(); ++i) err += (Q[i] - L.W[i]) * (Q[i] - L.W[i]);
    EXPECT_LT(err, prev) << bits;
    prev = err;
  }
}

TEST(Rtn, ExactOnGrid) {
  const float w[4] = {-1.0f, 0.0f, 1.0f, 2.0f};  // 4 levels, scale 1, zero 1
  auto Q = rtn_quantize(w, 1, 4, 2);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Q[i], w[i]);
}

TEST(GptqUniform, BeatsRtnAndKeepsOutliers) {
  const auto& L = layer();
  UniformGptqConfig cfg;
  cfg.bits = 2;
  cfg.n_outliers = 16;
  cfg.block_size = 32;
  auto r = gptq_uniform_quantize(L.W.data(), L.out, L.in, L.H, {}, cfg, "atom");
  const double e_gptq = output_error(L, r.weight);
  const double e_rtn = output_error(L, rtn_quantize(L.W.data(), L.out, L.in, 2));
  cfg.n_outliers = 0;
  const double e_no_out = output_error(L, gptq_uniform_quantize(L.W.data(), L.out, L.in, L.H, {},
                                                                cfg, "atom0").weight);
  std::printf("W2 output error: RTN %.4g, GPTQ %.4g, GPTQ+16 INT8 outliers %.4g (%.3f bits/w)\n",
              e_rtn, e_no_out, e_gptq, r.bits_per_weight);
  EXPECT_LT(e_no_out, e_rtn);
  EXPECT_LT(e_gptq, e_no_out);
  EXPECT_EQ(r.perm, order_by_hessian_diag(L.H, L.in));
  // Per-channel grid: at most 4 distinct values among a row's normal channels.
  for (int j = 0; j < L.out; ++j) {
    std::set<float> distinct;
    for (int c = 0; c < L.in - 16; ++c) distinct.insert(r.weight[size_t(j) * L.in + r.perm[c]]);
    EXPECT_LE(distinct.size(), 4u);
  }
}

TEST(GptqUniform, LazyBatchWidthDoesNotChangeResult) {
  const auto& L = layer();
  UniformGptqConfig cfg;
  cfg.bits = 3;
  cfg.n_outliers = 8;
  cfg.block_size = 16;
  auto a = gptq_uniform_quantize(L.W.data(), L.out, L.in, L.H, {}, cfg, "a");
  cfg.block_size = 64;
  auto b = gptq_uniform_quantize(L.W.data(), L.out, L.in, L.H, {}, cfg, "b");
  // Same algorithm, different summation order of the updates: equal up to float rounding,
  // except the odd weight that lands on the other side of a rounding boundary.
  int differ = 0;
  for (size_t i = 0; i < a.weight.size(); ++i) differ += std::abs(a.weight[i] - b.weight[i]) > 1e-4f;
  EXPECT_LT(differ, int(a.weight.size() / 100));
}

TEST(Billm, BinarizesWithCompensation) {
  const auto& L = layer();
  BillmConfig cfg;
  cfg.block_size = 32;
  auto r = billm_quantize(L.W.data(), L.out, L.in, L.H, cfg, "billm");
  const double e_billm = output_error(L, r.weight);
  const double e_rtn1 = output_error(L, rtn_quantize(L.W.data(), L.out, L.in, 1));
  auto ours_cfg = ladder_config(4, 32, 0);  // full method without outliers: same bit budget
  auto ours = quantize_binary_linear(L.W.data(), L.out, L.in, L.H, {}, ours_cfg, "ours");
  const double e_ours = output_error(L, ours.dequantize());
  std::printf("W(1+1) output error: RTN W1 %.4g, BiLLM %.4g (%lld salient cols, %.3f bits/w), "
              "ours K=0 %.4g (%.3f bits/w)\n",
              e_rtn1, e_billm, (long long)r.salient_columns, r.bits_per_weight, e_ours,
              bits_per_weight(ours));
  EXPECT_LT(e_billm, e_rtn1);
  for (int c = 0; c < L.in; ++c) EXPECT_EQ(r.perm[c], c);  // BiLLM does not reorder
  // At most 4 values per row in each block's non-salient part plus 4 in the salient part.
  for (int j = 0; j < L.out; ++j)
    for (int b0 = 0; b0 < L.in; b0 += 32) {
      std::set<float> distinct(r.weight.begin() + size_t(j) * L.in + b0,
                               r.weight.begin() + size_t(j) * L.in + b0 + 32);
      EXPECT_LE(distinct.size(), 8u);
    }
}

TEST(Billm, NoSalientCandidateMeansTwoGroupsOnly) {
  const auto& L = layer();
  BillmConfig cfg;
  cfg.block_size = 32;
  cfg.salient_candidates = {0};
  auto r = billm_quantize(L.W.data(), L.out, L.in, L.H, cfg, "billm0");
  EXPECT_EQ(r.salient_columns, 0);
  for (int j = 0; j < L.out; ++j)
    for (int b0 = 0; b0 < L.in; b0 += 32) {
      std::set<float> distinct(r.weight.begin() + size_t(j) * L.in + b0,
                               r.weight.begin() + size_t(j) * L.in + b0 + 32);
      EXPECT_LE(distinct.size(), 4u);
    }
}

}  // namespace
}  // namespace binq
