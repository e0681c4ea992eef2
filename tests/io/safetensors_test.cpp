// safetensors reader/writer and the q/k RoPE row permutation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "binq/core/half.h"
#include "binq/core/mapped_file.h"
#include "binq/io/rope_permute.h"
#include "binq/io/safetensors.h"
#include "binq/io/safetensors_writer.h"
#include "common/test_util.h"
#include "io_fixtures.h"

namespace binq {
namespace {

using nlohmann::json;

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 3.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// A file built by hand: 8-byte length, `header` text, then `data` bytes.
std::string raw_file(const std::string& header, const std::string& data, uint64_t claimed_len = UINT64_MAX) {
  const uint64_t len = claimed_len == UINT64_MAX ? header.size() : claimed_len;
  std::string out(reinterpret_cast<const char*>(&len), 8);
  return out + header + data;
}

TEST(Safetensors, RoundTripAllDtypes) {
  const auto a = random_values(3 * 5, 1), b = random_values(7, 2), c = random_values(2 * 3 * 4, 3);
  const float scalar = 1.25f;
  std::vector<TensorToWrite> tensors = {
      {"a.f32", TensorDType::F32, {3, 5}, a.data()},
      {"b.f16", TensorDType::F16, {7}, b.data()},
      {"c.bf16", TensorDType::BF16, {2, 3, 4}, c.data()},
      {"scalar", TensorDType::F32, {}, &scalar},
      {"empty", TensorDType::F16, {0, 4}, nullptr},
  };
  const std::string path = test::temp_dir("st") + "/t.safetensors";
  write_safetensors(path, tensors);
  auto f = SafetensorsFile::open(path);
  ASSERT_EQ(f->tensors().size(), 5u);

  ModelWeights owner;
  const SafetensorsTensor* ta = f->find("a.f32");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->dtype, "F32");
  EXPECT_EQ(ta->shape, (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(ta->offset % 8, 0u) << "the writer pads the header so data is 8-aligned";
  const float* pa = f->read_f32(*ta, owner);
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(pa), f->mapped()->data() + ta->offset) << "aligned F32 is not copied";
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(pa[i], a[i]);

  const float* pb = f->read_f32(*f->find("b.f16"), owner);
  for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(pb[i], round_to_fp16(b[i]));
  const float* pc = f->read_f32(*f->find("c.bf16"), owner);
  for (size_t i = 0; i < c.size(); ++i) {
    EXPECT_EQ(pc[i], bf16_to_float(float_to_bf16(c[i])));
    EXPECT_LE(std::fabs(pc[i] - c[i]), std::fabs(c[i]) / 256);  // 8 significant bits
  }
  EXPECT_EQ(*f->read_f32(*f->find("scalar"), owner), scalar);
  EXPECT_EQ(f->find("empty")->numel(), 0);
  EXPECT_EQ(f->find("missing"), nullptr);

  // The header is plain JSON a Python reader would accept.
  const std::string raw = read_text_file(path);
  uint64_t len;
  std::memcpy(&len, raw.data(), 8);
  json h = json::parse(raw.substr(8, len));
  EXPECT_EQ(h["__metadata__"]["format"], "pt");
  EXPECT_EQ(h["b.f16"]["dtype"], "F16");
  EXPECT_EQ(raw.size(), 8 + len + 15 * 4 + 7 * 2 + 24 * 2 + 4);
}

TEST(Safetensors, FailedWriteLeavesNothingBehind) {
  const float x[2] = {1, 2};
  const std::string dir = test::temp_dir("st-fail");
  EXPECT_BINQ_ERROR(write_safetensors(dir + "/t.safetensors", {{"a", TensorDType::F32, {2}, x}, {"a", TensorDType::F16, {2}, x}}),
                    "'a'");
  EXPECT_BINQ_ERROR(write_safetensors(dir + "/t.safetensors", {{"b", TensorDType::F32, {2}, nullptr}}), "'b' has no data");
  EXPECT_TRUE(std::filesystem::is_empty(dir)) << "no temporary or partial file may remain";
}

TEST(Safetensors, MisalignedF32IsCopied) {
  const float vals[3] = {1.5f, -2.0f, 3.25f};
  std::string data(2, '\0');  // the tensor starts 2 bytes into the data section
  data.append(reinterpret_cast<const char*>(vals), sizeof(vals));
  std::string header = R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[2,14]}})";
  header.resize((header.size() + 3) / 4 * 4, ' ');  // data section 4-aligned, so the tensor is not
  const std::string path = test::temp_dir("st-align") + "/m.safetensors";
  test::write_bytes(path, raw_file(header, data));
  auto f = SafetensorsFile::open(path);
  ModelWeights owner;
  const float* p = f->read_f32(*f->find("x"), owner);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignof(float), 0u);
  EXPECT_EQ(p[0], 1.5f);
  EXPECT_EQ(p[1], -2.0f);
  EXPECT_EQ(p[2], 3.25f);
}

class SafetensorsErrors : public ::testing::Test {
 protected:
  std::string write(const std::string& bytes) {
    const std::string p = dir_ + "/case" + std::to_string(n_++) + ".safetensors";
    test::write_bytes(p, bytes);
    return p;
  }
  std::string dir_ = test::temp_dir("st-err");
  int n_ = 0;
  const std::string data_ = std::string(64, '\0');
};

TEST_F(SafetensorsErrors, HeaderLengthAndJson) {
  EXPECT_BINQ_ERROR(SafetensorsFile::open(write("abc")), "header length");
  const std::string ok = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_NO_THROW(SafetensorsFile::open(write(raw_file(ok, data_))));
  EXPECT_BINQ_ERROR(SafetensorsFile::open(write(raw_file(ok, "", ok.size() + 1))), "beyond the end");
  EXPECT_BINQ_ERROR(SafetensorsFile::open(write(raw_file(ok, data_, uint64_t(1) << 62))), "header length");
  EXPECT_BINQ_ERROR(SafetensorsFile::open(write(raw_file(ok.substr(0, ok.size() - 1), data_))), "not valid JSON");
  EXPECT_BINQ_ERROR(SafetensorsFile::open(write(raw_file("[1,2]", data_))), "JSON object");
  EXPECT_BINQ_ERROR(SafetensorsFile::open(write(raw_file(R"({"__metadata__":3})", data_))), "__metadata__");
}

TEST_F(SafetensorsErrors, Offsets) {
  EXPECT_BINQ_ERROR(
      SafetensorsFile::open(write(raw_file(
          R"({"first":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"second":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
          data_))),
      "overlapping");
  EXPECT_BINQ_ERROR(SafetensorsFile::open(write(raw_file(
                        R"({"late":{"dtype":"F32","shape":[4],"data_offsets":[56,72]}})", data_))),
                    "late");
  EXPECT_BINQ_ERROR(SafetensorsFile::open(write(raw_file(
                        R"({"late":{"dtype":"F32","shape":[4],"data_offsets":[56,72]}})", data_))),
                    "outside the data section");
  EXPECT_BINQ_ERROR(SafetensorsFile::open(write(raw_file(
                        R"({"rev":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", data_))),
                    "rev");
  EXPECT_BINQ_ERROR(SafetensorsFile::open(write(raw_file(
                        R"({"size":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", data_))),
                    "needs 12");
  EXPECT_BINQ_ERROR(SafetensorsFile::open(write(raw_file(
                        R"({"neg":{"dtype":"F32","shape":[3],"data_offsets":[-4,8]}})", data_))),
                    "data_offsets");
  EXPECT_BINQ_ERROR(SafetensorsFile::open(write(raw_file(
                        R"({"huge":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}})", data_))),
                    "huge");
}

TEST_F(SafetensorsErrors, FieldsAndDtypes) {
  EXPECT_BINQ_ERROR(SafetensorsFile::open(write(raw_file(R"({"t":{"shape":[2],"data_offsets":[0,8]}})", data_))),
                    "dtype");
  EXPECT_BINQ_ERROR(SafetensorsFile::open(write(raw_file(R"({"t":{"dtype":"F32","data_offsets":[0,8]}})", data_))),
                    "shape");
  EXPECT_BINQ_ERROR(
      SafetensorsFile::open(write(raw_file(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data_))),
      "non-negative");
  EXPECT_BINQ_ERROR(
      SafetensorsFile::open(write(raw_file(R"({"t":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", data_))),
      "unsupported dtype 'Q4'");
  // Known but non-float dtypes open (sizes are checked) and are refused when read, by name.
  auto f = SafetensorsFile::open(
      write(raw_file(R"({"position_ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", data_)));
  ModelWeights owner;
  EXPECT_BINQ_ERROR(f->read_f32(*f->find("position_ids"), owner), "unsupported dtype 'I64'");
  EXPECT_BINQ_ERROR(f->read_f32(*f->find("position_ids"), owner), "position_ids");
}

// ---- q/k row permutation --------------------------------------------------------------------

TEST(RopePermute, MatchesTransformersPermuteOnASmallMatrix) {
  // transformers: w.view(heads, hd/2, 2, cols).transpose(1, 2).reshape(rows, cols), i.e. within
  // each head new row j*hd/2 + i = old row 2i + j. For head_dim 6 that is old rows 0,2,4,1,3,5.
  const int heads = 2, hd = 6, cols = 3;
  std::vector<float> w(size_t(heads) * hd * cols);
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(i);  // value encodes (row, col)
  std::vector<float> out(w.size()), back(w.size());
  permute_interleaved_to_halfsplit(w.data(), out.data(), heads, hd, cols);
  const int expected_rows[12] = {0, 2, 4, 1, 3, 5, 6, 8, 10, 7, 9, 11};
  for (int r = 0; r < heads * hd; ++r)
    for (int c = 0; c < cols; ++c) EXPECT_EQ(out[size_t(r) * cols + c], w[size_t(expected_rows[r]) * cols + c]);
  permute_halfsplit_to_interleaved(out.data(), back.data(), heads, hd, cols);
  EXPECT_EQ(back, w);
}

// The point of the permutation: rotating interleaved pairs of W x equals rotating half-split
// pairs of (P W) x, once the result is permuted the same way; attention scores q.k are then equal.
TEST(RopePermute, InterleavedAndHalfSplitRopeAgreeAfterPermutation) {
  const int heads = 3, hd = 8, cols = 5, pos = 7;
  auto W = random_values(size_t(heads) * hd * cols, 5), x = random_values(cols, 6);
  std::vector<float> PW(W.size());
  permute_interleaved_to_halfsplit(W.data(), PW.data(), heads, hd, cols);
  auto matvec = [&](const std::vector<float>& M) {
    std::vector<float> y(size_t(heads) * hd, 0.0f);
    for (size_t r = 0; r < y.size(); ++r)
      for (int c = 0; c < cols; ++c) y[r] += M[r * cols + c] * x[c];
    return y;
  };
  auto rope = [&](std::vector<float> v, bool interleaved) {
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < hd / 2; ++i) {
        const double angle = pos * std::pow(10000.0, -2.0 * i / hd);
        const int a = h * hd + (interleaved ? 2 * i : i), b = h * hd + (interleaved ? 2 * i + 1 : i + hd / 2);
        const double x0 = v[a], x1 = v[b];
        v[a] = float(x0 * std::cos(angle) - x1 * std::sin(angle));
        v[b] = float(x0 * std::sin(angle) + x1 * std::cos(angle));
      }
    return v;
  };
  auto ri = rope(matvec(W), true), rh = rope(matvec(PW), false);
  std::vector<float> ri_permuted(ri.size());
  permute_interleaved_to_halfsplit(ri.data(), ri_permuted.data(), heads, hd, 1);
  for (size_t i = 0; i < ri.size(); ++i) EXPECT_NEAR(ri_permuted[i], rh[i], 1e-5f * (1 + std::fabs(rh[i])));
}

}  // namespace
}  // namespace binq
