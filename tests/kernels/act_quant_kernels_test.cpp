// The activation quantizer's per-ISA loops against the scalar reference: every kernel on awkward
// lengths (tails of every size), then the whole quantizer on every ISA, compared bit for bit
// (floats by their bytes, so even the sign of a zero must agree).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "binq/core/error.h"
#include "binq/kernels/act_quant.h"
#include "binq/kernels/act_quant_kernels.h"
#include "binq/kernels/dispatch.h"
#include "common/isa_test.h"
#include "kernels/kernel_test_util.h"

namespace binq {
namespace {

const int kLengths[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 1000, 2048, 5635};

template <typename T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// Values on a grid of quarter steps (so x / mu hits exact halves: ties to even), signed zeros,
// and a few far outside [lo, hi] (clamping).
std::vector<float> awkward_values(int n, float step, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> grid(-40, 40), kind(0, 9);
  std::normal_distribution<float> nd(0.0f, 3.0f * step);
  std::vector<float> x(n);
  for (float& v : x) {
    switch (kind(rng)) {
      case 0: v = -0.0f; break;
      case 1: v = 0.0f; break;
      case 2: v = grid(rng) * step * 10; break;
      default: v = grid(rng) % 2 ? grid(rng) * step * 0.5f : nd(rng);
    }
  }
  return x;
}

// One case per ISA, each against the scalar kernels (the scalar case checks them against themselves,
// which still runs every input through them).
using ActQuantIsa = test::IsaTest;
BINQ_INSTANTIATE_PER_ISA(ActQuantIsa);

TEST_P(ActQuantIsa, GatherAndMinMax) {
  const ActQuantKernels& ref = act_quant_kernels(Isa::Scalar);
  for (const ActQuantKernels* k : {&act_quant_kernels(GetParam())})
    for (int n : kLengths) {
      SCOPED_TRACE(fmt::format("{} n={}", k->name, n));
      const std::vector<float> x = awkward_values(n, 0.25f, uint32_t(n));
      std::vector<int32_t> perm(n);
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), std::mt19937(n));
      std::vector<float> a(n), b(n);
      ref.gather(x.data(), perm.data(), n, a.data());
      k->gather(x.data(), perm.data(), n, b.data());
      ASSERT_TRUE(same_bytes(a, b));
      float lo0, hi0, lo1, hi1;
      ASSERT_TRUE(ref.min_max(x.data(), n, &lo0, &hi0));
      ASSERT_TRUE(k->min_max(x.data(), n, &lo1, &hi1));
      EXPECT_EQ(lo0, lo1);  // == : the sign of a zero min / max is unspecified
      EXPECT_EQ(hi0, hi1);
      for (int at : {0, n / 2, n - 1}) {  // a NaN anywhere is reported
        std::vector<float> y = x;
        y[at] = NAN;
        EXPECT_FALSE(ref.min_max(y.data(), n, &lo0, &hi0)) << at;
        EXPECT_FALSE(k->min_max(y.data(), n, &lo1, &hi1)) << at;
      }
    }
}

TEST_P(ActQuantIsa, CodesAndOutlierCodes) {
  const ActQuantKernels& ref = act_quant_kernels(Isa::Scalar);
  for (const ActQuantKernels* k : {&act_quant_kernels(GetParam())})
    for (int n : kLengths)
      for (int bits : {1, 4, 8}) {
        SCOPED_TRACE(fmt::format("{} n={} bits={}", k->name, n, bits));
        const std::vector<float> x = awkward_values(n, 0.125f, uint32_t(n * 10 + bits));
        const int levels = (1 << bits) - 1;
        for (float zf : {0.0f, -0.0f, 7.0f, -3.0f}) {
          std::vector<uint8_t> a(n + 1, 0xAA), b(n + 1, 0xAA);  // the byte past n must stay
          ref.codes(x.data(), n, 0.25f, zf, levels, a.data());
          k->codes(x.data(), n, 0.25f, zf, levels, b.data());
          ASSERT_EQ(a, b) << zf;
        }
        const int qmax = (1 << (bits == 1 ? 1 : bits - 1)) - 1;
        std::vector<int8_t> a(n + 1, 0x55), b(n + 1, 0x55);
        ref.outlier_codes(x.data(), n, 0.25f, qmax, a.data());
        k->outlier_codes(x.data(), n, 0.25f, qmax, b.data());
        ASSERT_EQ(a, b);
      }
}

TEST_P(ActQuantIsa, CountsAndBitPlanes) {
  const ActQuantKernels& ref = act_quant_kernels(Isa::Scalar);
  for (const ActQuantKernels* k : {&act_quant_kernels(GetParam())})
    for (int n : kLengths)
      for (int bits : {1, 2, 4, 8}) {
        SCOPED_TRACE(fmt::format("{} n={} bits={}", k->name, n, bits));
        const int levels = (1 << bits) - 1, count_levels = std::min(levels, 15);
        std::mt19937 rng(n + bits);
        std::vector<uint8_t> xq(n + 64, 0xFF);  // bytes past n are junk the kernels must ignore
        for (int i = 0; i < n; ++i) xq[i] = uint8_t(rng() % (levels + 1));
        std::vector<int32_t> c0(count_levels + 1), c1(count_levels + 1);
        std::vector<uint8_t> low(xq);  // code_counts takes at most 15 levels
        for (int i = 0; i < n; ++i) low[i] = uint8_t(xq[i] % (count_levels + 1));
        ref.code_counts(low.data(), n, count_levels, c0.data());
        k->code_counts(low.data(), n, count_levels, c1.data());
        ASSERT_EQ(c0, c1);
        const size_t nw = size_t(n + 63) / 64 * bits;
        std::vector<uint64_t> w0(nw), w1(nw);
        std::vector<int32_t> p0(bits, -1), p1(bits, -1);
        ref.bit_planes(xq.data(), n, bits, w0.data(), p0.data());
        k->bit_planes(xq.data(), n, bits, w1.data(), p1.data());
        ASSERT_EQ(w0, w1);
        ASSERT_EQ(p0, p1);
      }
}

// Everything quantize_activations / fake_quantize_activations produce, on one ISA.
struct Quantized {
  QuantizedActs qa;
  std::vector<float> xhat;
};
Quantized quantize_on(Isa isa, const std::vector<float>& x, int n, int width, const std::vector<int32_t>& perm,
                      int K, int B, const ActQuantConfig& cfg) {
  force_isa(isa);
  Quantized q;
  q.xhat.resize(x.size());
  if (cfg.bits == 4) quantize_activations(x.data(), n, width, perm.data(), K, B, cfg, q.qa);
  fake_quantize_activations(x.data(), n, width, perm.data(), K, cfg, q.xhat.data());
  reset_isa();
  return q;
}

void expect_same(const Quantized& a, const Quantized& b) {
  EXPECT_TRUE(same_bytes(a.qa.planes, b.qa.planes));
  EXPECT_TRUE(same_bytes(a.qa.plane_pop, b.qa.plane_pop));
  EXPECT_TRUE(same_bytes(a.qa.m, b.qa.m));
  EXPECT_TRUE(same_bytes(a.qa.mc, b.qa.mc));
  EXPECT_TRUE(same_bytes(a.qa.mu, b.qa.mu));
  EXPECT_TRUE(same_bytes(a.qa.z, b.qa.z));
  EXPECT_TRUE(same_bytes(a.qa.outlier_q, b.qa.outlier_q));
  EXPECT_TRUE(same_bytes(a.qa.outlier_scale, b.qa.outlier_scale));
  EXPECT_TRUE(same_bytes(a.xhat, b.xhat));
}

TEST_P(ActQuantIsa, WholeQuantizerIdenticalToScalar) {
  struct Shape {
    int width, K, B;
  };
  for (Shape s : {Shape{333, 13, 128}, {2048, 128, 128}, {1000, 0, 100}, {77, 77, 64}, {5635, 131, 96},
                  {64, 3, 50}, {130, 1, 300}})
    for (Balance bal : {Balance::None, Balance::Paper, Balance::LeastSquares})
      for (int bits : {4, 3, 8})
        for (int n : {1, 5, 40}) {  // 40 tokens: the OpenMP path
          SCOPED_TRACE(fmt::format("width={} K={} B={} balance={} bits={} n={}", s.width, s.K, s.B,
                                   balance_name(bal), bits, n));
          std::vector<float> x = test::random_acts(n, s.width, uint32_t(s.width + n));
          const std::vector<float> grid = awkward_values(s.width, 0.03125f, uint32_t(s.width));
          std::copy(grid.begin(), grid.end(), x.begin());  // token 0: ties, signed zeros, clamping
          if (n > 2) {  // degenerate tokens: all equal, and all zero with the sign of x[0] = -0
            std::fill(x.begin() + s.width, x.begin() + 2 * s.width, 1.5f);
            for (int i = 0; i < s.width; ++i) x[2 * s.width + i] = i % 3 ? 0.0f : -0.0f;
          }
          std::vector<int32_t> perm(s.width);
          std::iota(perm.begin(), perm.end(), 0);
          std::shuffle(perm.begin(), perm.end(), std::mt19937(s.K));
          ActQuantConfig cfg;
          cfg.balance = bal;
          cfg.bits = bits;
          const Quantized ref = quantize_on(Isa::Scalar, x, n, s.width, perm, s.K, s.B, cfg);
          expect_same(ref, quantize_on(GetParam(), x, n, s.width, perm, s.K, s.B, cfg));
        }
}

TEST_P(ActQuantIsa, NonFiniteActivationsFailCleanly) {
  // 64 tokens of 2000: the error must also leave the parallel region as a binq::Error.
  const int width = 2000, K = 10;
  for (int n : {1, 64})
    for (int at : {0, 5, width - 1})  // the last channel is an outlier (perm = identity)
      for (float bad : {NAN, INFINITY}) {
        std::vector<float> x = test::random_acts(n, width, 1), xhat(x.size());
        x[size_t(n - 1) * width + at] = bad;
        force_isa(GetParam());
        QuantizedActs qa;
        EXPECT_THROW(quantize_activations(x.data(), n, width, nullptr, K, 64, ActQuantConfig{}, qa), Error)
            << " at " << at;
        EXPECT_THROW(fake_quantize_activations(x.data(), n, width, nullptr, K, ActQuantConfig{}, xhat.data()),
                     Error);
        reset_isa();
      }
}

}  // namespace
}  // namespace binq
