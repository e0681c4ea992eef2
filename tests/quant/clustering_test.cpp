#include "binq/quant/clustering.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "binq/core/error.h"
#include "binq/core/half.h"

namespace binq {
namespace {

struct Case {
  std::string name;
  std::vector<float> w, imp;
};

// Random and adversarial inputs: Gaussian, heavy-tailed, duplicates, all equal, two far
// clusters, tiny n, and importances spanning 4 orders of magnitude.
std::vector<Case> cases(unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::cauchy_distribution<float> cauchy(0.0f, 1.0f);
  std::uniform_real_distribution<float> u(-4.0f, 0.0f);
  auto imps = [&](int n) {
    std::vector<float> v(n);
    for (auto& x : v) x = std::pow(10.0f, u(rng));
    return v;
  };
  std::vector<Case> out;
  for (int n : {0, 1, 2, 3, 4, 5, 17, 128}) {
    Case c{"gauss" + std::to_string(n), std::vector<float>(n), imps(n)};
    for (auto& x : c.w) x = g(rng);
    out.push_back(c);
  }
  {
    Case c{"cauchy", std::vector<float>(128), imps(128)};
    for (auto& x : c.w) x = std::clamp(cauchy(rng), -1e4f, 1e4f);
    out.push_back(c);
  }
  {
    Case c{"duplicates", std::vector<float>(128), imps(128)};
    for (auto& x : c.w) x = float(int(g(rng) * 1.5f)) * 0.25f;  // few distinct values
    out.push_back(c);
  }
  {
    Case c{"three_distinct", {}, imps(40)};
    for (int i = 0; i < 40; ++i) c.w.push_back(float(i % 3) - 1.0f);
    out.push_back(c);
  }
  out.push_back({"all_equal", std::vector<float>(64, 0.7f), imps(64)});
  {
    Case c{"two_far", std::vector<float>(128), imps(128)};
    for (int i = 0; i < 128; ++i) c.w[i] = (i % 2 ? 1000.0f : -1000.0f) + 0.01f * g(rng);
    out.push_back(c);
  }
  {
    Case c{"offset", std::vector<float>(128), imps(128)};  // large offset: cancellation
    for (auto& x : c.w) x = 5000.0f + 0.001f * g(rng);
    out.push_back(c);
  }
  return out;
}

void check_clusters(const Clusters& c, const Case& cs, const float* imp, int k) {
  const int n = int(cs.w.size());
  ASSERT_EQ(int(c.assign.size()), n);
  for (int m = 1; m < 4; ++m) EXPECT_LE(c.centres[m - 1], c.centres[m]) << cs.name;
  for (auto a : c.assign) EXPECT_LT(a, k) << cs.name;
  EXPECT_NEAR(c.loss, weighted_loss(cs.w.data(), imp, n, c.centres.data(), c.assign.data()),
              1e-12 * (1 + c.loss));
}

TEST(Clustering, EmLossNeverIncreases) {
  for (unsigned seed = 0; seed < 20; ++seed)
    for (const auto& cs : cases(seed))
      for (bool weighted : {false, true})
        for (int k : {2, 4}) {
          const float* imp = weighted ? cs.imp.data() : nullptr;
          const int n = int(cs.w.size());
          double scale = 0;  // round-off allowance: relative to the data's weighted energy
          for (int i = 0; i < n; ++i) scale += (imp ? imp[i] : 1.0) * double(cs.w[i]) * cs.w[i];
          std::vector<double> losses;
          EmObserver obs = [&](int, double loss) { losses.push_back(loss); };
          auto c = cluster_em(cs.w.data(), imp, n, k, 20, &obs);
          check_clusters(c, cs, imp, k);
          for (size_t i = 1; i < losses.size(); ++i)
            EXPECT_LE(losses[i], losses[i - 1] + 1e-14 * scale)
                << cs.name << " iteration " << i;
          // Final loss equals the last observed one (finishing only sorts/relabels).
          if (!losses.empty()) {
            EXPECT_NEAR(c.loss, losses.back(), 1e-9 * (1 + c.loss)) << cs.name;
          }
          EXPECT_LE(c.iterations, 20);
        }
}

TEST(Clustering, EmConvergesOnSeparatedData) {
  // Four well separated clumps: EM must find them exactly and stop early.
  std::vector<float> w;
  for (int i = 0; i < 128; ++i) w.push_back(float(i % 4) * 10.0f + (i % 7) * 0.01f);
  auto c = cluster_em(w.data(), nullptr, 128, 4, 20);
  EXPECT_LT(c.iterations, 20);
  for (int m = 0; m < 4; ++m) EXPECT_NEAR(c.centres[m], m * 10.0 + 0.03, 0.02);
  // Constant input: zero loss at once, no oscillation on the round-off of weighted means.
  std::vector<float> same(64, 0.7f), imp(64);
  for (int i = 0; i < 64; ++i) imp[i] = 0.001f * float(i + 1);
  auto s = cluster_em(same.data(), imp.data(), 64, 4, 20);
  EXPECT_EQ(s.loss, 0.0);
  EXPECT_LE(s.iterations, 2);
  for (double v : s.centres) EXPECT_EQ(v, double(0.7f));
}

TEST(Clustering, DpNeverWorseThanEm) {
  int dp_better = 0, total = 0;
  for (unsigned seed = 0; seed < 20; ++seed)
    for (const auto& cs : cases(100 + seed))
      for (bool weighted : {false, true})
        for (int k : {1, 2, 3, 4}) {
          const float* imp = weighted ? cs.imp.data() : nullptr;
          const int n = int(cs.w.size());
          double scale = 0;  // optimal up to round-off of the prefix sums of imp w^2
          for (int i = 0; i < n; ++i) scale += (imp ? imp[i] : 1.0) * double(cs.w[i]) * cs.w[i];
          auto em = cluster_em(cs.w.data(), imp, n, k);
          auto dp = cluster_dp(cs.w.data(), imp, n, k);
          check_clusters(dp, cs, imp, k);
          auto ref = cluster_dp(cs.w.data(), imp, n, k, DpSearch::Exhaustive);
          EXPECT_NEAR(dp.loss, ref.loss, 1e-14 * scale + 1e-12 * ref.loss) << cs.name << " k=" << k;
          EXPECT_LE(dp.loss, em.loss + 1e-14 * scale + 1e-12 * em.loss) << cs.name << " k=" << k;
          dp_better += dp.loss < em.loss * (1 - 1e-9);
          ++total;
        }
  std::printf("DP strictly better than EM in %d of %d cases\n", dp_better, total);
}

// Exhaustive search over every labelling: the DP must reach the same optimum.
TEST(Clustering, DpMatchesBruteForce) {
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_real_distribution<float> u(0.1f, 3.0f);
  for (int trial = 0; trial < 40; ++trial) {
    const int n = 1 + trial % 7, k = 1 + trial % 4;
    std::vector<float> w(n), imp(n);
    for (int i = 0; i < n; ++i) w[i] = trial % 5 == 0 ? float(int(g(rng))) : g(rng), imp[i] = u(rng);
    double best = INFINITY;
    int combos = 1;
    for (int i = 0; i < n; ++i) combos *= k;
    for (int code = 0; code < combos; ++code) {
      double s0[4] = {}, s1[4] = {}, loss = 0;
      std::vector<int> lab(n);
      for (int i = 0, c = code; i < n; ++i, c /= k) lab[i] = c % k;
      for (int i = 0; i < n; ++i) s0[lab[i]] += imp[i], s1[lab[i]] += imp[i] * w[i];
      for (int i = 0; i < n; ++i) {
        const double e = w[i] - s1[lab[i]] / s0[lab[i]];
        loss += imp[i] * e * e;
      }
      best = std::min(best, loss);
    }
    for (auto search : {DpSearch::Monotone, DpSearch::Exhaustive}) {
      auto dp = cluster_dp(w.data(), imp.data(), n, k, search);
      EXPECT_NEAR(dp.loss, best, 1e-9 * (1 + best)) << "trial " << trial;
    }
  }
}

TEST(Clustering, EmVersusDpOnGaussianBlocks) {
  // The measurement quoted in the report: 128-wide Gaussian blocks with 1/U_ii^2-like weights.
  std::mt19937 rng(11);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_real_distribution<float> u(-2.0f, 0.0f);
  for (bool weighted : {false, true}) {
    double em_sum = 0, dp_sum = 0, worst_ratio = 1;
    const int blocks = 500;
    for (int b = 0; b < blocks; ++b) {
      std::vector<float> w(128), imp(128);
      for (int i = 0; i < 128; ++i) w[i] = g(rng), imp[i] = std::pow(10.0f, u(rng));
      const float* ip = weighted ? imp.data() : nullptr;
      auto em = cluster_em(w.data(), ip, 128, 4);
      auto dp = cluster_dp(w.data(), ip, 128, 4);
      em_sum += em.loss, dp_sum += dp.loss;
      worst_ratio = std::max(worst_ratio, em.loss / dp.loss);
      ASSERT_LE(dp.loss, em.loss * (1 + 1e-9));
    }
    std::printf("Gaussian blocks (n=128, k=4, %s): mean EM loss %.5f, DP %.5f, EM/DP %.4f, "
                "worst block EM/DP %.3f\n",
                weighted ? "weighted" : "unweighted", em_sum / blocks, dp_sum / blocks,
                em_sum / dp_sum, worst_ratio);
  }
}

TEST(Clustering, RejectsBadArguments) {
  float w[3] = {1, 2, 3}, bad_imp[3] = {1, 0, 1};
  EXPECT_THROW(cluster_em(w, nullptr, 3, 5), Error);
  EXPECT_THROW(cluster_dp(w, nullptr, 3, 0), Error);
  EXPECT_THROW(cluster_dp(w, bad_imp, 3, 2), Error);
  float nan_w[2] = {1, NAN};
  EXPECT_THROW(cluster_em(nan_w, nullptr, 2, 2), Error);
}

TEST(GroupMapping, ReproducesCentresExactly) {
  // Centres on a 2^-6 grid in [-2, 2): every centre and difference is exact in FP16, so the
  // stored (lo, d) must decode to the very same four values, in index order 2 s + q.
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> grid(-128, 127);
  for (int t = 0; t < 1000; ++t) {
    std::array<double, 4> c;
    for (auto& v : c) v = grid(rng) / 64.0;
    std::sort(c.begin(), c.end());
    for (bool round : {false, true}) {
      const GroupParams g = groups_from_centres(c, round);
      EXPECT_EQ(g.value(0, 0), float(c[0]));
      EXPECT_EQ(g.value(0, 1), float(c[1]));
      EXPECT_EQ(g.value(1, 0), float(c[2]));
      EXPECT_EQ(g.value(1, 1), float(c[3]));
    }
  }
}

TEST(GroupMapping, Fp16RoundingStaysClose) {
  std::mt19937 rng(4);
  std::normal_distribution<double> g(0.0, 0.02);
  for (int t = 0; t < 1000; ++t) {
    std::array<double, 4> c;
    for (auto& v : c) v = g(rng);
    std::sort(c.begin(), c.end());
    const GroupParams p = groups_from_centres(c, true);
    for (float v : {p.lo0, p.d0, p.lo1, p.d1}) EXPECT_EQ(round_to_fp16(v), v);
    for (int i = 0; i < 4; ++i) {
      const double err = std::abs(p.value(i >> 1, i & 1) - c[i]);
      // lo is off by <= half an FP16 ulp of lo (2^-11 relative); lo + d by <= half an ulp of
      // d = c_hi - lo, since d is rounded after lo and absorbs lo's error.
      const double span = std::abs(c[i | 1] - c[i & 2]);
      const double bound = (i & 1 ? span : std::abs(c[i])) * std::ldexp(1.0, -11);
      EXPECT_LE(err, bound * (1 + 1e-6) + 1e-7) << t << " " << i;
    }
  }
}

TEST(GroupMapping, AssignNearestUsesStoredValues) {
  const GroupParams g{-1.0f, 0.5f, 1.0f, 2.0f};  // values -1, -0.5, 1, 3
  const float w[6] = {-2.0f, -0.6f, 0.2f, 0.3f, 1.9f, 2.1f};
  uint8_t q[6], s[6];
  assign_nearest_group(w, 6, g, true, q, s);
  const int want[6] = {0, 1, 1, 2, 2, 3};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(2 * s[i] + q[i], want[i]) << i;
  assign_nearest_group(w, 6, g, false, q, s);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(s[i], 0);
  EXPECT_EQ(q[5], 1);
  EXPECT_EQ(q[0], 0);
}

}  // namespace
}  // namespace binq
