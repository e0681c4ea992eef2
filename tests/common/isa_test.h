// Tests that run once per kernel ISA. Every ISA binq has is a test case of its own, so the test
// output is the matrix of what ran: an ISA this CPU lacks (or BINQ_ISA_MAX masks) is skipped with
// the reason, never silently left out and never a failure.
#pragma once
#include <gtest/gtest.h>

#include <ostream>

#include "binq/kernels/dispatch.h"

namespace binq {
// So gtest and ctest print "avx2", not "4-byte object <01-00 00-00>".
inline void PrintTo(Isa isa, std::ostream* os) { *os << isa_name(isa); }
}  // namespace binq

namespace binq::test {

inline constexpr Isa kAllIsas[] = {Isa::Scalar, Isa::Avx2, Isa::Avx512};

// Parameter-name generator for INSTANTIATE_TEST_SUITE_P over ISAs: "scalar", "avx2", "avx512".
struct IsaName {
  std::string operator()(const ::testing::TestParamInfo<Isa>& info) const { return isa_name(info.param); }
};

}  // namespace binq::test

// In a SetUp or test body: skips the test, saying why, when the process cannot run `isa`.
#define BINQ_SKIP_UNLESS_ISA_RUNS(isa)                                          \
  if (const std::string why = ::binq::isa_unsupported_reason(isa); !why.empty()) \
  GTEST_SKIP() << ::binq::isa_name(isa) << " not run: " << why

namespace binq::test {

// A test fixture whose parameter is the ISA; SetUp skips an ISA the process cannot run.
class IsaTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override { BINQ_SKIP_UNLESS_ISA_RUNS(GetParam()); }
  void TearDown() override { reset_isa(); }
};

}  // namespace binq::test

// Instantiates the TEST_Ps of `suite` (an IsaTest subclass or alias) once per ISA.
#define BINQ_INSTANTIATE_PER_ISA(suite) \
  INSTANTIATE_TEST_SUITE_P(Isa, suite, ::testing::ValuesIn(::binq::test::kAllIsas), ::binq::test::IsaName())
