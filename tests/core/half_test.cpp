#include "binq/core/half.h"

#include <gtest/gtest.h>
#include <immintrin.h>

#include <cmath>
#include <random>

namespace binq {
namespace {

// Every fp16 bit pattern survives fp16 -> float -> fp16 (NaNs stay NaN).
TEST(Half, AllFp16ValuesRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = fp16_to_float(uint16_t(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(fp16_to_float(float_to_fp16(f))));
      continue;
    }
    ASSERT_EQ(float_to_fp16(f), h) << "pattern " << h;
  }
}

// Conversions agree with the hardware F16C instructions (round to nearest even) on random floats.
__attribute__((target("f16c"))) uint16_t hw_to_half(float f) {
  return uint16_t(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}

TEST(Half, MatchesF16CRounding) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "no F16C on this CPU";
  std::mt19937 rng(1);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 2000000; ++i) {
    float f = bits_to_float(bits(rng));
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_fp16(f), hw_to_half(f)) << f;
  }
}

TEST(Half, Bf16RoundsToNearestEven) {
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f)), 1.0f);
  EXPECT_EQ(float_to_bf16(bits_to_float(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(float_to_bf16(bits_to_float(0x3f818000u)), 0x3f82);  // tie -> even (up)
  EXPECT_EQ(float_to_bf16(bits_to_float(0x3f808001u)), 0x3f81);
}

}  // namespace
}  // namespace binq
