#include "binq/quant/gptq.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "binq/core/error.h"
#include "binq/core/half.h"
#include "common/expect_binary_params.h"
#include "quant/quant_fixtures.h"

namespace binq {
namespace {

using test::make_layer;
using test::output_error;
using test::SyntheticLayer;

const SyntheticLayer& layer() {
  static const SyntheticLayer L = make_layer(48, 256, 2048, 42);
  return L;
}

BinaryQuantConfig base_config() {
  BinaryQuantConfig c;
  c.block_size = 32;
  c.n_outliers = 16;
  return c;
}

double error_of(const BinaryQuantConfig& cfg, QuantDebug* dbg = nullptr) {
  const auto& L = layer();
  auto p = quantize_binary_linear(L.W.data(), L.out, L.in, L.H, {}, cfg, "synthetic", dbg);
  return output_error(L, p.dequantize());
}

TEST(Gptq, CompensationBeatsPlainRounding) {
  for (auto method : {ClusterMethod::EM, ClusterMethod::DP}) {
    auto cfg = base_config();
    cfg.cluster = method;
    cfg.compensation = Compensation::None;
    const double none = error_of(cfg);
    cfg.compensation = Compensation::Block;
    const double block = error_of(cfg);
    cfg.compensation = Compensation::Column;
    const double column = error_of(cfg);
    std::printf("%s: output error none %.4g, block %.4g, column %.4g\n",
                method == ClusterMethod::EM ? "EM" : "DP", none, block, column);
    EXPECT_LT(block, none);
    EXPECT_LT(column, none);
    // The brief asks for column <= block on this case; it is the expected outcome (column mode
    // feeds back every column's error), so failing here is worth a look.
    EXPECT_LE(column, block);
  }
}

TEST(Gptq, LadderEndsFarBelowItsStart) {
  const auto& L = layer();
  std::vector<double> err;
  for (int rung = 0; rung < kLadderRungs; ++rung) {
    auto cfg = ladder_config(rung, 32, 16);
    auto p = quantize_binary_linear(L.W.data(), L.out, L.in, L.H, {}, cfg, "ladder");
    err.push_back(output_error(L, p.dequantize()));
    std::printf("rung %d %-28s output error %.4g  bits/weight %.3f\n", rung, ladder_name(rung),
                err.back(), bits_per_weight(p));
  }
  EXPECT_LT(err[1], err[0]);  // outliers
  EXPECT_LT(err[2], err[1]);  // minimum distance
  EXPECT_LT(err[3], err[2]);  // bitmap
  EXPECT_LT(err[4], err[0] * 0.5);
}

TEST(Gptq, DeterministicForFixedInput) {
  const auto& L = layer();
  for (auto comp : {Compensation::Block, Compensation::Column}) {
    auto cfg = base_config();
    cfg.compensation = comp;
    auto a = quantize_binary_linear(L.W.data(), L.out, L.in, L.H, {}, cfg, "det");
    auto b = quantize_binary_linear(L.W.data(), L.out, L.in, L.H, {}, cfg, "det");
    test::expect_same_binary_params(a, b);
  }
}

// Outliers are quantized after absorbing compensation: the decoded outlier weight must be the
// INT8 rounding of the weight as it stood then, not of the original weight.
TEST(Gptq, OutliersRoundTheCompensatedWeights) {
  const auto& L = layer();
  for (auto comp : {Compensation::Block, Compensation::Column}) {
    auto cfg = base_config();
    cfg.compensation = comp;
    QuantDebug dbg;
    auto p = quantize_binary_linear(L.W.data(), L.out, L.in, L.H, {}, cfg, "outliers", &dbg);
    const auto Q = p.dequantize();
    const int bw = p.binary_width();
    int moved = 0;
    for (int j = 0; j < L.out; ++j) {
      const float scale = p.outlier_scale[j];
      EXPECT_GT(scale, 0.0f);
      for (int c = bw; c < L.in; ++c) {
        const float at = dbg.quantized_at[size_t(j) * L.in + c];
        const float deq = Q[size_t(j) * L.in + p.perm[c]];
        // Block mode: the row scale covers every value, so the error is at most half a step.
        // Column mode may clip values that grew after the scale was fixed.
        if (comp == Compensation::Block || std::abs(at) <= 127 * scale) {
          EXPECT_LE(std::abs(deq - at), 0.5f * scale * (1 + 1e-5f)) << j << "," << c;
        }
        moved += std::abs(at - L.W[size_t(j) * L.in + p.perm[c]]) > scale;
      }
    }
    EXPECT_GT(moved, 0) << "compensation never reached the outlier columns";
  }
}

// The stored parameters decode to exactly the values the quantizer rounded to.
TEST(Gptq, DequantizeMatchesStoredGroups) {
  const auto& L = layer();
  auto cfg = base_config();
  auto p = quantize_binary_linear(L.W.data(), L.out, L.in, L.H, {}, cfg, "decode");
  const auto Q = p.dequantize();
  const int bw = p.binary_width(), nb = p.n_blocks();
  for (int j = 0; j < L.out; ++j)
    for (int c = 0; c < bw; ++c) {
      const size_t pb = size_t(j) * nb + c / p.block_size, e = size_t(j) * bw + c;
      const GroupParams g{p.lo0[pb], p.d0[pb], p.lo1[pb], p.d1[pb]};
      EXPECT_EQ(Q[size_t(j) * L.in + p.perm[c]], g.value(p.bitmap[e], p.sign[e]));
    }
  // Every (row, block) uses both groups somewhere: the bitmap is not degenerate.
  int rows_with_both = 0;
  for (int j = 0; j < L.out; ++j) {
    int ones = 0;
    for (int c = 0; c < p.block_size; ++c) ones += p.bitmap[size_t(j) * bw + c];
    rows_with_both += ones > 0 && ones < p.block_size;
  }
  EXPECT_EQ(rows_with_both, L.out);
}

TEST(Gptq, ShortLastBlockAndNoBitmap) {
  auto L = make_layer(8, 100, 400, 5);
  auto cfg = base_config();
  cfg.block_size = 32;
  cfg.n_outliers = 10;  // binary width 90: blocks 32, 32, 26
  auto p = quantize_binary_linear(L.W.data(), L.out, L.in, L.H, {}, cfg, "short");
  EXPECT_EQ(p.n_blocks(), 3);
  EXPECT_EQ(p.sign.size(), size_t(8 * 90));
  cfg.bitmap = false;
  auto q = quantize_binary_linear(L.W.data(), L.out, L.in, L.H, {}, cfg, "nobitmap");
  for (auto s : q.bitmap) EXPECT_EQ(s, 0);
  for (size_t i = 0; i < q.lo0.size(); ++i) {
    EXPECT_EQ(q.lo0[i], q.lo1[i]);
    EXPECT_EQ(q.d0[i], q.d1[i]);
  }
  cfg.n_outliers = 0;
  cfg.block_size = 1000;  // one block wider than the layer
  auto r = quantize_binary_linear(L.W.data(), L.out, L.in, L.H, {}, cfg, "oneblock");
  EXPECT_EQ(r.n_blocks(), 1);
  EXPECT_TRUE(r.outlier_w.empty());
}

TEST(Gptq, SharedPermutationIsUsed) {
  const auto& L = layer();
  auto perm = order_by_hessian_diag(L.H, L.in);
  for (int i = 1; i < L.in; ++i)
    EXPECT_LE(L.H[size_t(perm[i - 1]) * L.in + perm[i - 1]], L.H[size_t(perm[i]) * L.in + perm[i]]);
  std::reverse(perm.begin(), perm.end());  // any permutation given from outside is kept
  auto p = quantize_binary_linear(L.W.data(), L.out, L.in, L.H, perm, base_config(), "perm");
  EXPECT_EQ(p.perm, perm);
  std::vector<int32_t> bad(L.in, 0);
  EXPECT_THROW(quantize_binary_linear(L.W.data(), L.out, L.in, L.H, bad, base_config(), "bad"),
               Error);
}

TEST(Gptq, DeadChannelsAreZeroedNotCompensated) {
  auto L = make_layer(8, 64, 300, 9);
  for (int c = 0; c < 64; ++c) L.H[size_t(3) * 64 + c] = L.H[size_t(c) * 64 + 3] = 0;
  QuantDebug dbg;
  auto cfg = base_config();
  auto p = quantize_binary_linear(L.W.data(), L.out, L.in, L.H, {}, cfg, "dead", &dbg);
  EXPECT_EQ(p.perm[0], 3);  // zero energy sorts first
  for (int j = 0; j < L.out; ++j) EXPECT_EQ(dbg.quantized_at[size_t(j) * L.in + 0], 0.0f);
}

TEST(BinaryLayer, ValidateCatchesCorruption) {
  const auto& L = layer();
  const auto good = quantize_binary_linear(L.W.data(), L.out, L.in, L.H, {}, base_config(), "v");
  EXPECT_NO_THROW(good.validate("good"));
  auto p = good;
  p.sign[5] = 2;
  EXPECT_THROW(p.validate("sign"), Error);
  p = good;
  p.lo1[3] = 0.1f;  // not representable in FP16
  EXPECT_THROW(p.validate("fp16"), Error);
  p = good;
  p.perm[1] = p.perm[0];
  EXPECT_THROW(p.validate("perm"), Error);
  p = good;
  p.outlier_w.pop_back();
  EXPECT_THROW(p.validate("size"), Error);
  p = good;
  p.outlier_w[0] = -128;
  EXPECT_THROW(p.validate("int8"), Error);
}

TEST(BinaryLayer, DequantizeUnpermutes) {
  // Hand-built 1 x 4 layer, one block of 3 binary channels and one outlier.
  BinaryLinearParams p;
  p.out_features = 1, p.in_features = 4, p.n_outliers = 1, p.block_size = 3;
  p.perm = {2, 0, 3, 1};
  p.sign = {0, 1, 1};
  p.bitmap = {0, 0, 1};
  p.lo0 = {-1.0f}, p.d0 = {0.5f}, p.lo1 = {2.0f}, p.d1 = {0.25f};
  p.outlier_w = {-3};
  p.outlier_scale = {0.5f};
  const auto W = p.dequantize();
  EXPECT_EQ(W, (std::vector<float>{-0.5f, -1.5f, -1.0f, 2.25f}));
}

}  // namespace
}  // namespace binq
