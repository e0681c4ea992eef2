// `binq quantize` end to end on stories260K with a tiny calibration: the file it writes runs in
// `binq perplexity` (bitwise and simulated), `binq inspect` reads it, and bad flags are named.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "binq/core/mapped_file.h"
#include "common/run_binq.h"
#include "common/test_util.h"

namespace binq {
namespace {

struct Fixture {
  std::string dir = test::temp_dir("quantize");
  std::string calib = dir + "/calib.txt", text = dir + "/text.txt";
  std::string base;  // model + small calibration flags
  Fixture() {
    test::write_bytes(calib, read_text_file(test::shared("data/tinystories/tinystories_train.txt")).substr(0, 60000));
    test::write_bytes(text, read_text_file(test::shared("data/tinystories/tinystories_val.txt")).substr(0, 6000));
    base = "quantize --model " + test::stories_model() + " --calib " + calib + " --nsamples 4 --calib-ctx 128 -t 1";
  }
};
const Fixture& fx() {
  static Fixture f;
  return f;
}

double ppl_of(const std::string& args) {
  auto r = test::run_binq("perplexity " + args + " --file " + fx().text + " --ctx 128 --json -t 1");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out)["ppl"].get<double>() : NAN;
}

TEST(Quantize, WritesAFileThatTheOtherCommandsRun) {
  const std::string out = fx().dir + "/bwa.binq";
  auto r = test::run_binq(fx().base + " --out " + out + " --json --eval-dataset tinystories --eval-windows 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["recipe"]["method"], "bwa");
  EXPECT_EQ(j["recipe"]["calibration"]["nsamples"], 4);
  EXPECT_GT(j["file_bytes"].get<int64_t>(), 10000);
  EXPECT_GT(j["bits_per_weight"].get<double>(), 2.0);
  EXPECT_GT(j["peak_rss_mib"].get<double>(), 1.0);
  ASSERT_EQ(j["eval"].size(), 1u);
  EXPECT_EQ(j["eval"][0]["windows"], 2);
  EXPECT_TRUE(std::isfinite(j["eval"][0]["ppl"].get<double>()));
  EXPECT_NE(r.err.find("block 5/5"), std::string::npos) << r.err;  // progress per block
  EXPECT_NE(r.err.find("ETA"), std::string::npos) << r.err;

  auto inspect = test::run_binq("inspect " + out);
  EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
  // The tokenizer is embedded: no --tokenizer needed.
  EXPECT_TRUE(std::isfinite(ppl_of("--model " + out + " --simulate")));
}

TEST(Quantize, BitwiseRuntimeMatchesSimulatedOnAQuantizedModel) {
  // Real quantized stories260K layers (widths 64 and 172, short blocks, K = 2 / 6) through
  // the packed kernels: the same perplexity as the simulation.
  const std::string out = fx().dir + "/bwa-bitwise.binq";
  auto r = test::run_binq(fx().base + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const double bitwise = ppl_of("--model " + out), simulated = ppl_of("--model " + out + " --simulate");
  EXPECT_TRUE(std::isfinite(bitwise));
  EXPECT_NEAR(bitwise, simulated, 1e-3 * simulated);
}

TEST(Quantize, BaselinesWriteDenseFiles) {
  const std::string out = fx().dir + "/gptq.binq";
  auto r = test::run_binq(fx().base + " --out " + out + " --method gptq --wbits 2 --abits 4 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["recipe"]["label"], "W2A4");
  EXPECT_TRUE(std::isfinite(ppl_of("--model " + out)));
  auto text = test::run_binq(fx().base + " --out " + fx().dir + "/rtn.binq --method rtn --wbits 3");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("bits/weight"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("peak RSS"), std::string::npos) << text.out;
}

TEST(Quantize, HelpListsEverySwitch) {
  auto r = test::run_binq("quantize --help");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* flag : {"--method", "--calib", "--nsamples", "--calib-ctx", "--seed", "--group", "--outliers",
                           "--cluster", "--compensation", "--no-bitmap", "--no-hessian-weight", "--no-min-distance",
                           "--ladder-rung", "--wbits", "--abits", "--balance", "--kv-bits", "--eval-dataset"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

TEST(Quantize, BadFlagsAreNamed) {
  const std::string out = " --out " + fx().dir + "/bad.binq";
  const std::pair<std::string, std::string> cases[] = {
      {" --method foo", "--method"},          {" --outliers 100", "--outliers"},
      {" --cluster kmeans", "--cluster"},     {" --compensation row", "--compensation"},
      {" --abits 3", "--abits"},              {" --ladder-rung 9", "--ladder-rung"},
      {" --balance best", "--balance"},       {" --method rtn --no-bitmap", "--no-bitmap"},
      {" --eval-dataset nosuch", "--eval-dataset"}, {" --method billm --wbits 2", "--wbits"},
      {" --kv-bits 1", "--kv-bits"},          {" --calib-runtime gpu", "--calib-runtime"},
  };
  for (const auto& [flags, name] : cases) {
    auto r = test::run_binq(fx().base + out + flags);
    EXPECT_EQ(r.exit_code, 1) << flags << ": " << r.err;
    EXPECT_NE(r.err.find(name), std::string::npos) << flags << ": " << r.err;
  }
  auto calib = test::run_binq("quantize --model " + test::stories_model() + out + " --calib /no/such/file");
  EXPECT_EQ(calib.exit_code, 1);
  EXPECT_NE(calib.err.find("--calib"), std::string::npos) << calib.err;
  // A .binq is not a checkpoint to quantize again.
  const std::string q = fx().dir + "/fp.binq";
  ASSERT_EQ(test::run_binq(fx().base + " --out " + q + " --method fp").exit_code, 0);
  auto again = test::run_binq("quantize --model " + q + " --out " + fx().dir + "/x.binq");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("--model"), std::string::npos) << again.err;
}

}  // namespace
}  // namespace binq
