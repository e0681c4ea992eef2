// CompactBinaryLinear: the packed form QuantizedModel keeps is lossless and as small as the file.
#include <gtest/gtest.h>

#include <cstring>

#include "binq/core/error.h"
#include "binq/kernels/packed_linear.h"
#include "binq/kernels/synthetic_layer.h"
#include "binq/quant/compact_binary_linear.h"
#include "binq/quant/gptq.h"
#include "common/expect_binary_params.h"

namespace binq {
namespace {

template <typename F>
void expect_error(F&& f, const std::string& substr) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing '" << substr << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(substr), std::string::npos) << e.what();
  }
}

TEST(CompactBinaryLinear, RoundTripIsExactForOddShapes) {
  // Bit counts not a multiple of 8, short last blocks, no outliers, all outliers.
  struct Shape {
    int out, in, k, b;
  } shapes[] = {{3, 37, 5, 16}, {7, 64, 0, 64}, {5, 200, 8, 128}, {4, 9, 9, 4}, {1, 1, 0, 1}};
  uint64_t seed = 1;
  for (const Shape& s : shapes) {
    SCOPED_TRACE(testing::Message() << s.out << "x" << s.in << " K=" << s.k << " B=" << s.b);
    BinaryLinearParams p = random_binary_layer(s.out, s.in, s.k, s.b, seed++);
    CompactBinaryLinear c(p);
    test::expect_same_binary_params(p, c.unpack());
    EXPECT_EQ(c.sign.size(), (size_t(s.out) * (s.in - s.k) + 7) / 8);
    EXPECT_EQ(bits_per_weight(c), bits_per_weight(p));
    EXPECT_EQ(c.n_blocks(), p.binary_width() > 0 ? p.n_blocks() : 0);
  }
}

TEST(CompactBinaryLinear, PacksFromItsBitsExactlyAsFromBytes) {
  // load_binq packs from the file's bits. Rows start mid-byte when the binary width is not a
  // multiple of 8 (77 - 4 = 73), and short last blocks and K = in (no bits) are covered too.
  struct Shape {
    int out, in, k, b;
  } shapes[] = {{3, 37, 5, 16}, {13, 77, 4, 64}, {9, 200, 8, 128}, {4, 9, 9, 4}, {17, 131, 3, 128}, {1, 1, 0, 1}};
  uint64_t seed = 11;
  for (const Shape& s : shapes) {
    SCOPED_TRACE(testing::Message() << s.out << "x" << s.in << " K=" << s.k << " B=" << s.b);
    const BinaryLinearParams p = random_binary_layer(s.out, s.in, s.k, s.b, seed++);
    const CompactBinaryLinear c(p);
    const PackedBinaryLinear from_bytes = pack(p);
    const PackedBinaryLinear from_bits = pack(c.unpack_params(), c.sign, c.bitmap);
    ASSERT_EQ(from_bits.tiles.size(), from_bytes.tiles.size());
    EXPECT_EQ(std::memcmp(from_bits.tiles.data(), from_bytes.tiles.data(), from_bytes.tiles.size()), 0);
    EXPECT_EQ(from_bits.perm, from_bytes.perm);
    EXPECT_EQ(from_bits.int_accumulation_ok, from_bytes.int_accumulation_ok);
  }
  const BinaryLinearParams p = random_binary_layer(5, 40, 3, 16, 99);
  const CompactBinaryLinear c(p);
  std::vector<uint8_t> short_sign(c.sign.begin(), c.sign.end() - 1);
  expect_error([&] { pack(c.unpack_params(), short_sign, c.bitmap); }, "expected");
  expect_error([&] { pack(p, c.sign, c.bitmap); }, "both as bytes and as bits");
}

TEST(CompactBinaryLinear, IsAboutThreeBitsPerWeightInMemory) {
  CompactBinaryLinear c(random_binary_layer(256, 2048, 64, 128, 7));
  const double bytes = double(c.sign.size() + c.bitmap.size() + c.params.size() * 2 + c.outlier_w.size() +
                              c.outlier_scale.size() * 2 + c.perm.size() * 4);
  EXPECT_LT(bytes * 8 / (256.0 * 2048), 3.0);
  EXPECT_NEAR(bytes * 8 / (256.0 * 2048), bits_per_weight(c), 1e-9);  // exactly what is counted
}

TEST(CompactBinaryLinear, ValidateRefusesWhatACorruptFileCouldHold) {
  const CompactBinaryLinear good(random_binary_layer(4, 40, 4, 16, 3));
  CompactBinaryLinear c = good;
  c.params[2] = 0x7C00;  // +Inf
  expect_error([&] { c.validate("L"); }, "params[2]");
  c = good;
  c.perm[0] = c.perm[1];
  expect_error([&] { c.validate("L"); }, "permutation");
  c = good;
  c.sign.pop_back();
  expect_error([&] { c.validate("L"); }, "sign");
  c = good;
  c.outlier_w[0] = -128;
  expect_error([&] { c.validate("L"); }, "-128");
  BinaryLinearParams p = good.unpack();
  p.lo0[0] = 0.1f;  // not an FP16 value: the compact form could not hold it exactly
  expect_error([&] { CompactBinaryLinear{p}; }, "lo0");
}

}  // namespace
}  // namespace binq
