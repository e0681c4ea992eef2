// Packed W(1+1)A(1x4) layer: every ISA equals the scalar reference exactly in the integer parts
// and to within 4 float ulps (+ 1e-12 x magnitude) in floats; bitwise == simulated (dequantized
// weights x fake-quantized activations); pack/unpack round trip.
#include <gtest/gtest.h>

#include <cmath>

#include "binq/core/error.h"
#include "binq/kernels/dispatch.h"
#include "binq/kernels/packed_linear.h"
#include "common/expect_binary_params.h"
#include "common/isa_test.h"
#include "kernels/kernel_test_util.h"

namespace binq {
namespace {

struct Shape {
  int out, in, K, B;
};

// Awkward sizes: widths not multiples of 64/128, short last blocks, K = 0 and K > 0, B > 128
// (2600 at B = 256: 21 chunks, two per block), long rows (2300: 18 chunks), and row counts that
// fill row tiles of 8 exactly, partly (a zero-padded last tile) or not at all (5, 6, 7 rows).
const Shape kShapes[] = {
    {37, 300, 0, 128}, {33, 300, 44, 128}, {16, 1000, 128, 128}, {9, 200, 7, 64},
    {20, 517, 5, 100}, {11, 700, 33, 256}, {8, 130, 130, 128},   {5, 97, 0, 300},
    {7, 2300, 20, 128}, {5, 2600, 0, 256}, {6, 1024, 0, 128},
};

std::string name(const Shape& s) {
  return fmt::format("{}x{} K={} B={}", s.out, s.in, s.K, s.B);
}

TEST(PackedBinaryLinear, PackUnpackRoundTrip) {
  for (const Shape& s : kShapes) {
    const BinaryLinearParams p = test::random_layer(s.out, s.in, s.K, s.B, 11);
    const PackedBinaryLinear w = pack(p);
    const BinaryLinearParams u = unpack(w);
    SCOPED_TRACE(name(s));
    test::expect_same_binary_params(u, p);
    EXPECT_EQ(w.tile_stride % 64, 0);
    EXPECT_EQ(w.bytes(), int64_t(w.tiles.size()) + 4 * s.in);
  }
}

TEST(PackedBinaryLinear, BitsPerWeightLlamaLayer) {
  const BinaryLinearParams p = test::random_layer(64, 4096, 128, 128, 3);
  const PackedBinaryLinear w = pack(p);
  // Per 8 rows: 128 header + 31 blocks x (64 params + 256 bits) + 8 x 128 outliers.
  EXPECT_EQ(w.tile_stride, 128 + 31 * 320 + 1024);
  const double bpw = 8.0 * double(w.tile_stride) / (8 * 4096);  // 16 + 8 + 32 + 4 bytes per 128
  EXPECT_NEAR(bpw, 2.703125, 1e-12);
}

TEST(PackedBinaryLinear, PackRejectsBadInput) {
  BinaryLinearParams p = test::random_layer(4, 100, 4, 64, 1);
  p.sign[3] = 2;
  EXPECT_THROW(pack(p), Error);
  p = test::random_layer(4, 100, 4, 64, 1);
  p.lo0[0] = 0.1f;  // not FP16-exact
  EXPECT_THROW(pack(p), Error);
  p = test::random_layer(4, 100, 4, 64, 1);
  p.perm[0] = p.perm[1];
  EXPECT_THROW(pack(p), Error);
  p = test::random_layer(4, 100, 4, 64, 1);
  p.d1.pop_back();
  EXPECT_THROW(pack(p), Error);
}

// One case per (activation balance, ISA); the scalar reference is checked against the
// simulated path in every case, the ISA's kernels against the scalar reference.
class BitwiseIsaTest : public ::testing::TestWithParam<std::tuple<Balance, Isa>> {
 protected:
  void SetUp() override { BINQ_SKIP_UNLESS_ISA_RUNS(std::get<1>(GetParam())); }
};

TEST_P(BitwiseIsaTest, MatchesScalarAndSimulation) {
  const auto [bal, isa] = GetParam();
  for (const Shape& s : kShapes) {
    const BinaryLinearParams p = test::random_layer(s.out, s.in, s.K, s.B, 7 + s.in);
    const PackedBinaryLinear w = pack(p);
    const std::vector<float> wd = dequantize_permuted(w);
    for (int n : {1, 3, 17}) {
      SCOPED_TRACE(fmt::format("{} n={} balance={}", name(s), n, balance_name(bal)));
      const std::vector<float> x = test::random_acts(n, s.in, 100 + n);
      ActQuantConfig cfg;
      cfg.balance = bal;
      QuantizedActs qa;
      quantize_activations(x.data(), n, s.in, p.perm.data(), s.K, s.B, cfg, qa);
      std::vector<float> xhat(size_t(n) * s.in);
      fake_quantize_activations(x.data(), n, s.in, p.perm.data(), s.K, cfg, xhat.data());

      const KernelTable& ref = kernel_table(Isa::Scalar);
      std::vector<int32_t> rc, ro;
      binary_int_parts(w, qa, rc, ro, &ref);
      std::vector<float> ry(size_t(n) * s.out);
      binary_gemm(w, qa, ry.data(), &ref);
      const std::vector<double> mag = binary_magnitudes(w, qa);

      // Simulated path: double dot of dequantized weights and fake-quantized activations.
      for (int t = 0; t < n; ++t)
        for (int j = 0; j < s.out; ++j) {
          double sim = 0;
          for (int i = 0; i < s.in; ++i)
            sim += double(wd[size_t(j) * s.in + i]) * xhat[size_t(t) * s.in + i];
          const size_t k = size_t(t) * s.out + j;
          ASSERT_NEAR(ry[k], sim, 2e-5 * mag[k] + 1e-30) << "t=" << t << " j=" << j;
        }

      const KernelTable& kt = kernel_table(isa);
      std::vector<int32_t> c, o;
      binary_int_parts(w, qa, c, o, &kt);
      ASSERT_EQ(c, rc);
      ASSERT_EQ(o, ro);
      std::vector<float> y(size_t(n) * s.out);
      binary_gemm(w, qa, y.data(), &kt);
      // Every ISA computes the exact value in double (~1e-16 relative to mag) and rounds to
      // float once, so it agrees with the scalar reference to a few ulps (1e-12 * mag covers
      // cancellation, where |y| << mag).
      for (size_t k = 0; k < y.size(); ++k) {
        const float a = std::fabs(ry[k]);
        const double ulp = double(std::nextafter(a, INFINITY) - a);
        ASSERT_NEAR(y[k], ry[k], 4 * ulp + 1e-12 * mag[k]) << k;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    BalanceIsa, BitwiseIsaTest,
    ::testing::Combine(::testing::Values(Balance::None, Balance::Paper, Balance::LeastSquares),
                       ::testing::ValuesIn(test::kAllIsas)),
    [](const auto& info) {
      return std::string(balance_name(std::get<0>(info.param))) + "_" + isa_name(std::get<1>(info.param));
    });

// Parameters too large for the AVX-512 kernel's exact 52-bit integer sums must be detected at
// pack time and still give the reference result (AVX2 fallback). Worst case: d1 = 61440 on every
// weight with q = s = 1 and activations at the top code (all planes set): the true sum,
// 156 blocks x 128 x 61440 in units of 2^-24, is ~2^54.
using BitwiseKernelsIsa = test::IsaTest;
BINQ_INSTANTIATE_PER_ISA(BitwiseKernelsIsa);

// Parameters too large for exact integer accumulation: the ISA falls back to its double path (or,
// for AVX-512, to AVX2's) and still agrees with the scalar reference.
TEST_P(BitwiseKernelsIsa, HugeParametersStayExact) {
  const Isa isa = GetParam();
  const int in = 20000, K = 16;
  BinaryLinearParams p = test::random_layer(4, in, K, 128, 5);
  EXPECT_TRUE(pack(p).int_accumulation_ok);
  for (float& v : p.d1) v = 61440.0f;
  for (auto* bits : {&p.sign, &p.bitmap})
    for (uint8_t& b : *bits) b = 1;
  const PackedBinaryLinear w = pack(p);
  EXPECT_FALSE(w.int_accumulation_ok);
  std::vector<float> x(size_t(2) * in, 1.0f);
  x[0] = x[in] = 0.0f;
  QuantizedActs qa;
  quantize_activations(x.data(), 2, in, p.perm.data(), K, 128, ActQuantConfig{}, qa);
  std::vector<float> ry(8), y(8);
  binary_gemm(w, qa, ry.data(), &kernel_table(Isa::Scalar));
  const std::vector<double> mag = binary_magnitudes(w, qa);
  binary_gemm(w, qa, y.data(), &kernel_table(isa));
  for (size_t k = 0; k < y.size(); ++k) {
    const float a = std::fabs(ry[k]);
    EXPECT_NEAR(y[k], ry[k], 4 * double(std::nextafter(a, INFINITY) - a) + 1e-12 * mag[k]);
  }
}

TEST(BitwiseKernels, CountsAreTheDefinition) {
  // Integer parts checked against the unpacked definition (not just scalar vs SIMD).
  const Shape s{6, 333, 9, 128};
  const BinaryLinearParams p = test::random_layer(s.out, s.in, s.K, s.B, 5);
  const PackedBinaryLinear w = pack(p);
  const std::vector<float> x = test::random_acts(2, s.in, 9);
  QuantizedActs qa;
  quantize_activations(x.data(), 2, s.in, p.perm.data(), s.K, s.B, ActQuantConfig{}, qa);
  std::vector<int32_t> c, o;
  binary_int_parts(w, qa, c, o);
  const int bw = s.in - s.K, nb = w.n_blocks;
  for (int t = 0; t < 2; ++t)
    for (int j = 0; j < s.out; ++j) {
      for (int l = 0; l < nb; ++l)
        for (int a = 0; a < 4; ++a) {
          int e[3] = {0, 0, 0};
          for (int i = l * s.B; i < std::min(bw, (l + 1) * s.B); ++i) {
            const int b = qa.plane_bit(t, a, i), q = p.sign[j * bw + i], sb = p.bitmap[j * bw + i];
            e[0] += q & b & sb;
            e[1] += q & b;
            e[2] += b & sb;
          }
          for (int k = 0; k < 3; ++k) ASSERT_EQ(c[((t * s.out + j) * nb + l) * 12 + a * 3 + k], e[k]);
        }
      int32_t od = 0;
      for (int k = 0; k < s.K; ++k) od += int32_t(p.outlier_w[j * s.K + k]) * qa.outlier_q[t * qa.k_pad + k];
      ASSERT_EQ(o[t * s.out + j], od);
    }
}

// Layers sharing one quantized input run in one parallel region over their concatenated tiles;
// every layer's output must be exactly what it gives alone (layers of 37, 8 and 5 rows put tile
// boundaries and a thread split inside and across layers).
TEST_P(BitwiseKernelsIsa, GroupEqualsLayersOneByOne) {
  const Isa isa = GetParam();
  const int in = 700, K = 33, B = 128, n = 3;
  std::vector<PackedBinaryLinear> ws;
  BinaryLinearParams first;
  for (int out : {37, 8, 5}) {
    BinaryLinearParams p = test::random_layer(out, in, K, B, 20 + out);
    if (ws.empty()) first = p;
    p.perm = first.perm;
    ws.push_back(pack(p));
  }
  const std::vector<float> x = test::random_acts(n, in, 4);
  QuantizedActs qa;
  quantize_activations(x.data(), n, in, first.perm.data(), K, B, ActQuantConfig{}, qa);
  std::vector<std::vector<float>> alone(ws.size()), grouped(ws.size());
  std::vector<const PackedBinaryLinear*> wp;
  std::vector<float*> yp;
  for (size_t i = 0; i < ws.size(); ++i) {
    alone[i].resize(size_t(n) * ws[i].out_features);
    grouped[i].assign(alone[i].size(), -1.0f);
    binary_gemm(ws[i], qa, alone[i].data(), &kernel_table(isa));
    wp.push_back(&ws[i]);
    yp.push_back(grouped[i].data());
  }
  binary_gemm_group(wp, qa, yp, &kernel_table(isa));
  for (size_t i = 0; i < ws.size(); ++i) EXPECT_EQ(grouped[i], alone[i]) << "layer " << i;
}

// The opt-in sgemm route (BINQ_PREFILL=sgemm): the dequantizer gives dequantize_permuted's floats,
// the dequantized activations are m_c + sum_a m_a b_a, and the product is their float GEMM,
// within float accumulation error (in * 2^-24 of the sum of |terms|) of the double one.
TEST_P(BitwiseKernelsIsa, SgemmRouteIsTheFloatProduct) {
  const KernelTable& kt = kernel_table(GetParam());
  if (!kt.dequant_rows) GTEST_SKIP() << kt.name << " runs every batch bitwise";
  EXPECT_FALSE(use_sgemm_route(kt, 1000));  // opt-in only
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(name(s));
    const BinaryLinearParams p = test::random_layer(s.out, s.in, s.K, s.B, 3 + s.in);
    const PackedBinaryLinear w = pack(p);
    const std::vector<float> wd = dequantize_permuted(w);
    std::vector<float> d(wd.size(), -1.0f);
    kt.dequant_rows(w.view(), 0, s.out, d.data());
    ASSERT_EQ(d, wd);
    const int n = kt.sgemm_from_tokens + 3;
    const std::vector<float> x = test::random_acts(n, s.in, 5);
    QuantizedActs qa;
    quantize_activations(x.data(), n, s.in, p.perm.data(), s.K, s.B, ActQuantConfig{}, qa);
    const std::vector<float> xd = dequantize_acts(qa);
    for (int t = 0; t < n; ++t)
      for (int i = 0; i < s.in; ++i) {
        double e = 0;
        if (i < s.in - s.K) {
          e = qa.mc[t];
          for (int a = 0; a < 4; ++a) e += qa.plane_bit(t, a, i) ? double(qa.m[t * 4 + a]) : 0.0;
        } else {
          e = double(qa.outlier_scale[t]) * qa.outlier_q[size_t(t) * qa.k_pad + i - (s.in - s.K)];
        }
        ASSERT_EQ(xd[size_t(t) * s.in + i], float(e)) << t << " " << i;
      }
    std::vector<float> y(size_t(n) * s.out);
    binary_sgemm(w, xd.data(), n, y.data(), kt);
    for (int t = 0; t < n; ++t)
      for (int j = 0; j < s.out; ++j) {
        double sum = 0, mag = 0;
        for (int i = 0; i < s.in; ++i) {
          const double term = double(wd[size_t(j) * s.in + i]) * xd[size_t(t) * s.in + i];
          sum += term;
          mag += std::fabs(term);
        }
        ASSERT_NEAR(y[size_t(t) * s.out + j], sum, s.in * 0x1p-24 * mag + 1e-30) << "t=" << t << " j=" << j;
      }
  }
}

TEST(BitwiseKernels, MismatchedActivationsFail) {
  const BinaryLinearParams p = test::random_layer(4, 256, 0, 128, 5);
  const PackedBinaryLinear w = pack(p);
  const std::vector<float> x = test::random_acts(1, 256, 9);
  QuantizedActs qa;
  quantize_activations(x.data(), 1, 256, nullptr, 0, 64, ActQuantConfig{}, qa);
  std::vector<float> y(4);
  EXPECT_THROW(binary_gemm(w, qa, y.data()), Error);
}

}  // namespace
}  // namespace binq
