// The .binq container: round trip, and clean failures on every kind of damage.
#include "binq/quant/binq_file.h"

#include <gtest/gtest.h>

#include <random>

#include "binq/core/error.h"
#include "binq/core/mapped_file.h"
#include "common/test_util.h"

namespace binq {
namespace {

std::string write_sample(const std::string& dir) {
  BinqWriter w;
  std::vector<float> a(1000);
  std::vector<int8_t> b(77);
  for (size_t i = 0; i < a.size(); ++i) a[i] = float(i) * 0.5f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = int8_t(i - 40);
  w.add("alpha", "f32", {10, 100}, a.data(), a.size() * 4);
  w.add("beta", "i8", {77}, b.data(), b.size());
  w.header()["model"] = {{"dim", 64}};
  std::string path = dir + "/sample.binq";
  w.write(path);
  return path;
}

TEST(BinqFile, RoundTripIsBitIdentical) {
  std::string path = write_sample(test::temp_dir("binqfile"));
  BinqReader r(path);
  EXPECT_EQ(r.header()["model"]["dim"], 64);
  const float* a = reinterpret_cast<const float*>(r.blob("alpha", "f32", 4000));
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a[i], float(i) * 0.5f);
  EXPECT_EQ(r.info("alpha").offset % kBinqAlign, 0u);
  EXPECT_EQ(r.info("beta").offset % kBinqAlign, 0u);
  const int8_t* b = reinterpret_cast<const int8_t*>(r.blob("beta", "i8", 77));
  EXPECT_EQ(b[0], -40);
  EXPECT_EQ(b[76], 36);
  EXPECT_THROW(r.blob("alpha", "f16", 4000), Error);
  EXPECT_THROW(r.blob("alpha", "f32", 3996), Error);
  EXPECT_THROW(r.blob("gamma", "f32", 4), Error);
}

TEST(BinqFile, EveryTruncationFailsCleanly) {
  std::string dir = test::temp_dir("binqtrunc");
  std::string bytes = read_text_file(write_sample(dir));
  for (size_t len = 0; len < bytes.size(); len += 37) {
    std::string p = dir + "/t.binq";
    test::write_bytes(p, bytes.substr(0, len));
    EXPECT_THROW(BinqReader{p}, Error) << "length " << len;
  }
}

TEST(BinqFile, CorruptionIsDetectedAndNamed) {
  std::string dir = test::temp_dir("binqcorrupt");
  std::string path = write_sample(dir);
  std::string bytes = read_text_file(path);
  BinqReader good(path);
  // A flipped bit inside a blob names that blob.
  for (const char* name : {"alpha", "beta"}) {
    std::string bad = bytes;
    bad[good.info(name).offset + 5] ^= 0x10;
    test::write_bytes(dir + "/c.binq", bad);
    try {
      BinqReader r(dir + "/c.binq");
      ADD_FAILURE() << "corruption in " << name << " not detected";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
  // Random single-byte damage anywhere: always a clean binq::Error (or harmless padding).
  std::mt19937 rng(3);
  for (int i = 0; i < 300; ++i) {
    std::string bad = bytes;
    size_t at = rng() % bad.size();
    bad[at] = char(bad[at] ^ (1 + rng() % 255));
    test::write_bytes(dir + "/r.binq", bad);
    try {
      BinqReader r(dir + "/r.binq");
    } catch (const Error&) {
    }
  }
  std::string magic = bytes;
  magic[0] = 'X';
  test::write_bytes(dir + "/m.binq", magic);
  EXPECT_THROW(BinqReader{dir + "/m.binq"}, Error);
}

}  // namespace
}  // namespace binq
