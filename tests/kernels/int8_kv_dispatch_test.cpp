// INT8 W8A8 baseline and the ISA dispatch (the packed INT4 KV cache: kv_int4_test.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "binq/core/error.h"
#include "binq/kernels/act_quant.h"
#include "binq/kernels/dispatch.h"
#include "binq/kernels/int8_linear.h"
#include "binq/kernels/kernel_table.h"
#include "common/isa_test.h"
#include "kernels/kernel_test_util.h"

namespace binq {
namespace {

using Int8LinearIsa = test::IsaTest;
BINQ_INSTANTIATE_PER_ISA(Int8LinearIsa);

TEST_P(Int8LinearIsa, ExactAndCloseToFloat) {
  const Isa isa = GetParam();
  for (auto [out, in] : {std::pair{13, 100}, {64, 256}, {7, 33}, {33, 1000}}) {
    const std::vector<float> w = test::random_acts(out, in, 1);
    const Int8Linear q = quantize_int8_linear(w.data(), out, in);
    for (int n : {1, 3, 17}) {
      SCOPED_TRACE(fmt::format("{}x{} n={}", out, in, n));
      const std::vector<float> x = test::random_acts(n, in, 2);
      Int8Acts qa;
      quantize_int8_acts(x.data(), n, in, qa);
      std::vector<int32_t> ref;
      int8_int_dots(q, qa, ref, &kernel_table(Isa::Scalar));
      for (int t = 0; t < n; ++t)
        for (int j = 0; j < out; ++j) {
          int32_t e = 0;
          for (int k = 0; k < in; ++k) e += int32_t(q.w[j * q.ld + k]) * qa.q[t * qa.ld + k];
          ASSERT_EQ(ref[t * out + j], e);
        }
      std::vector<int32_t> d;
      int8_int_dots(q, qa, d, &kernel_table(isa));
      ASSERT_EQ(d, ref);
      std::vector<float> y(size_t(n) * out);
      int8_gemm(q, qa, y.data(), &kernel_table(isa));
      for (int t = 0; t < n; ++t)
        for (int j = 0; j < out; ++j) {
          double exact = 0, mag = 0;
          for (int k = 0; k < in; ++k) {
            exact += double(w[j * in + k]) * x[t * in + k];
            mag += std::fabs(double(w[j * in + k]) * x[t * in + k]);
          }
          ASSERT_EQ(y[t * out + j], float(ref[t * out + j]) * q.scale[j] * qa.scale[t]);
          ASSERT_NEAR(y[t * out + j], exact, 0.15 * mag);  // sanity: INT8 error with 20x outlier channels
        }
    }
  }
}

TEST(Dispatch, ForceAndEnvironment) {
  EXPECT_EQ(isa_name(detect_isa()), std::string(kernel_table(detect_isa()).name));
  for (Isa isa : supported_isas()) {
    force_isa(isa);
    EXPECT_EQ(active_isa(), isa);
    EXPECT_STREQ(kernel_table().name, isa_name(isa));
  }
  reset_isa();
  ASSERT_EQ(setenv("BINQ_ISA", "scalar", 1), 0);
  EXPECT_EQ(active_isa(), Isa::Scalar);
  reset_isa();
  ASSERT_EQ(setenv("BINQ_ISA", "neon", 1), 0);
  EXPECT_THROW(active_isa(), Error);
  reset_isa();
  ASSERT_EQ(unsetenv("BINQ_ISA"), 0);
  EXPECT_EQ(active_isa(), detect_isa());
  reset_isa();
}

TEST(Dispatch, UnsupportedForcedIsaFailsCleanly) {
  limit_isa_for_testing(Isa::Scalar);  // behave like a CPU without AVX2
  EXPECT_FALSE(isa_supported(Isa::Avx2));
  EXPECT_EQ(detect_isa(), Isa::Scalar);
  try {
    force_isa(Isa::Avx512);
    ADD_FAILURE() << "force_isa(avx512) should fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("avx512"), std::string::npos) << e.what();
  }
  EXPECT_THROW(kernel_table(Isa::Avx2), Error);
  EXPECT_EQ(isa_unsupported_reason(Isa::Scalar), "");
  EXPECT_FALSE(isa_unsupported_reason(Isa::Avx2).empty());
  reset_isa();
  ASSERT_EQ(setenv("BINQ_ISA", "avx2", 1), 0);
  EXPECT_THROW(active_isa(), Error);
  ASSERT_EQ(unsetenv("BINQ_ISA"), 0);
  limit_isa_for_testing(Isa::Avx512);
  reset_isa();
  EXPECT_EQ(active_isa(), detect_isa());
}

}  // namespace
}  // namespace binq
