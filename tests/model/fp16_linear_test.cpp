// The FP16 output head: the per-row FP16 kernel (few tokens) and the widen-then-sgemm path (many
// tokens) against a double-precision reference, on every ISA the machine runs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "binq/core/half.h"
#include "binq/kernels/dispatch.h"
#include "binq/model/linear.h"
#include "common/isa_test.h"

namespace binq {
namespace {

using Fp16LinearIsa = test::IsaTest;
BINQ_INSTANTIATE_PER_ISA(Fp16LinearIsa);

TEST_P(Fp16LinearIsa, EqualsDoubleReferenceForFewAndManyTokens) {
  force_isa(GetParam());
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  // in = 4096 makes row blocks of 64 rows, so 150 rows span three blocks, the last one short.
  for (auto [out, in] : {std::pair{150, 4096}, {37, 333}}) {
    std::vector<uint16_t> w(size_t(out) * in);
    for (auto& h : w) h = float_to_fp16(0.05f * nd(rng));
    const Fp16Linear lin(w, out, in);
    for (int n : {1, 5, 16, 40}) {
      std::vector<float> x(size_t(n) * in), y(size_t(n) * out);
      for (auto& v : x) v = nd(rng);
      SCOPED_TRACE(testing::Message() << out << "x" << in << " n=" << n);
      lin.forward(x.data(), n, y.data());
      for (int t = 0; t < n; ++t)
        for (int j = 0; j < out; ++j) {
          double ref = 0, mag = 0;
          for (int i = 0; i < in; ++i) {
            const double p = double(fp16_to_float(w[size_t(j) * in + i])) * x[size_t(t) * in + i];
            ref += p;
            mag += std::abs(p);
          }
          ASSERT_NEAR(y[size_t(t) * out + j], ref, 1e-5 * mag + 1e-6) << "token " << t << " row " << j;
        }
    }
  }
}

}  // namespace
}  // namespace binq
