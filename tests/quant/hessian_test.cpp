#include "binq/quant/hessian.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "binq/core/error.h"

namespace binq {
namespace {

std::vector<float> random_x(int n, int d, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(size_t(n) * d);
  for (auto& v : x) v = g(rng) + 0.5f;  // non-zero mean: cross terms matter
  return x;
}

TEST(Hessian, MatchesBruteForce) {
  const int n = 57, d = 13;
  auto x = random_x(n, d, 1);
  HessianAccumulator acc(d);
  acc.add(x.data(), n);
  auto H = acc.finalize();
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) {
      double s = 0;
      for (int t = 0; t < n; ++t) s += double(x[size_t(t) * d + i]) * x[size_t(t) * d + j];
      EXPECT_NEAR(H[size_t(i) * d + j], 2.0 * s / n, 1e-12 * (1 + std::abs(s))) << i << "," << j;
    }
  EXPECT_EQ(acc.n_tokens(), n);
}

TEST(Hessian, PiecesAndMergeEqualOneGo) {
  const int n = 300, d = 37;
  auto x = random_x(n, d, 2);
  HessianAccumulator whole(d), pieces(d), a(d), b(d);
  whole.add(x.data(), n);
  // Uneven pieces, including an empty one.
  int pos = 0;
  for (int len : {1, 0, 17, 100, 182}) {
    pieces.add(x.data() + size_t(pos) * d, len);
    pos += len;
  }
  ASSERT_EQ(pos, n);
  a.add(x.data(), 123);
  b.add(x.data() + size_t(123) * d, n - 123);
  a.merge(b);
  auto H = whole.finalize(), Hp = pieces.finalize(), Hm = a.finalize();
  for (size_t i = 0; i < H.size(); ++i) {
    EXPECT_NEAR(Hp[i], H[i], 1e-12 * (1 + std::abs(H[i])));
    EXPECT_NEAR(Hm[i], H[i], 1e-12 * (1 + std::abs(H[i])));
  }
  EXPECT_EQ(a.n_tokens(), n);
}

TEST(Hessian, RejectsBadInput) {
  HessianAccumulator acc(3);
  EXPECT_THROW(acc.finalize(), Error);
  float bad[3] = {1, NAN, 2};
  EXPECT_THROW(acc.add(bad, 1), Error);
  HessianAccumulator other(4);
  EXPECT_THROW(acc.merge(other), Error);
}

TEST(Hessian, OrderAscendingAndStable) {
  const int d = 5;
  std::vector<double> H(d * d, 0.0);
  const double diag[d] = {3, 1, 2, 1, 0};
  for (int i = 0; i < d; ++i) H[i * d + i] = diag[i];
  auto perm = order_by_hessian_diag(H, d);
  EXPECT_EQ(perm, (std::vector<int32_t>{4, 1, 3, 2, 0}));
  auto P = permute_symmetric(H, d, perm);
  for (int i = 0; i < d; ++i) EXPECT_EQ(P[i * d + i], diag[perm[i]]);
}

TEST(Hessian, ReleaseEqualsFinalize) {
  const int n = 33, d = 19;
  auto x = random_x(n, d, 12);
  HessianAccumulator acc(d);
  acc.add(x.data(), n);
  const auto H = acc.finalize();
  EXPECT_EQ(acc.release(), H);  // bit for bit
  EXPECT_EQ(acc.n_tokens(), 0);
  EXPECT_THROW(acc.add(x.data(), 1), Error);
}

TEST(Hessian, PermuteSymmetricInPlaceMatchesTheDefinition) {
  const int d = 37;
  auto x = random_x(50, d, 11);
  HessianAccumulator acc(d);
  acc.add(x.data(), 50);
  const auto H = acc.finalize();
  std::vector<int32_t> perm(d);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(5));
  const auto P = permute_symmetric(H, d, perm);
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) ASSERT_EQ(P[size_t(i) * d + j], H[size_t(perm[i]) * d + perm[j]]) << i << "," << j;
  EXPECT_THROW(permute_symmetric(H, d, std::vector<int32_t>(d, 0)), Error);
}

// prepare_hessian factors in place and restores H from its untouched triangle for a retry: the
// result must be bit for bit the two-step factorization of H + damp_used I.
TEST(Hessian, InPlaceFactorAndRetryAreExact) {
  const int n = 20, d = 32;  // n < d: H is singular, so a negative shift makes it indefinite
  auto x = random_x(n, d, 9);
  HessianAccumulator acc(d);
  acc.add(x.data(), n);
  const auto H0 = acc.finalize();
  double mean = 0;
  for (int i = 0; i < d; ++i) mean += H0[size_t(i) * d + i] / d;
  for (double shift : {0.0, 0.05 * mean}) {
    std::vector<double> H = H0;
    for (int i = 0; i < d; ++i) H[size_t(i) * d + i] -= shift;
    const auto ph = prepare_hessian(H, d, 0.01, "exact");
    if (shift > 0) EXPECT_GT(ph.damp_used, 0.01 * mean);  // retried at least once
    std::vector<double> A = H;
    for (int i = 0; i < d; ++i) A[size_t(i) * d + i] += ph.damp_used;
    ASSERT_TRUE(cholesky_inverse_inplace(A, d) && cholesky_upper_inplace(A, d));
    EXPECT_EQ(ph.U, A);
  }
}

// U^T U must equal (H + damp I)^-1, U upper triangular.
TEST(Hessian, PreparedFactorInvertsDampedH) {
  const int n = 40, d = 24;  // n > d but correlated: damping matters
  auto x = random_x(n, d, 3);
  HessianAccumulator acc(d);
  acc.add(x.data(), n);
  auto H = acc.finalize();
  auto ph = prepare_hessian(H, d, 0.01, "test");
  double mean = 0;
  for (int i = 0; i < d; ++i) mean += H[i * d + i];
  mean /= d;
  EXPECT_NEAR(ph.damp_used, 0.01 * mean, 1e-12);
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < i; ++j) EXPECT_EQ(ph.U[i * d + j], 0.0);
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) {
      // (U^T U (H + damp I))_ij
      double s = 0;
      for (int k = 0; k < d; ++k) {
        double hinv_ik = 0;
        for (int m = 0; m <= std::min(i, k); ++m) hinv_ik += ph.U[m * d + i] * ph.U[m * d + k];
        s += hinv_ik * (H[k * d + j] + (k == j ? ph.damp_used : 0.0));
      }
      EXPECT_NEAR(s, i == j ? 1.0 : 0.0, 1e-9) << i << "," << j;
    }
}

TEST(Hessian, DeadChannelsMarked) {
  const int n = 50, d = 6;
  auto x = random_x(n, d, 4);
  for (int t = 0; t < n; ++t) x[size_t(t) * d + 2] = 0;  // channel 2 never fires
  HessianAccumulator acc(d);
  acc.add(x.data(), n);
  auto ph = prepare_hessian(acc.finalize(), d, 0.01, "test");
  for (int i = 0; i < d; ++i) EXPECT_EQ(ph.dead[i], i == 2 ? 1 : 0);
  EXPECT_TRUE(std::isfinite(ph.U[2 * d + 2]));
}

TEST(Hessian, IndefiniteRetriesThenFails) {
  // Eigenvalues -4 and 6: damping 0.01 * mean(diag) = 0.01 is not enough, 10 is.
  std::vector<double> H = {1, 5, 5, 1};
  auto ph = prepare_hessian(H, 2, 0.01, "indefinite");
  EXPECT_NEAR(ph.damp_used, 10.0, 1e-12);
  std::vector<double> bad = {1, 50, 50, 1};  // eigenvalue -49: no damping step fixes it
  EXPECT_THROW(prepare_hessian(bad, 2, 0.01, "hopeless"), Error);
}

}  // namespace
}  // namespace binq
