// End-to-end tests of the binq executable: the commands users run, and their error messages.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "binq/core/mapped_file.h"
#include "common/run_binq.h"
#include "common/test_util.h"

namespace binq {
namespace {

TEST(Cli, GreedyGenerationReproducesTheGoldenText) {
  auto r = test::run_binq("generate --model " + test::stories_model() + " --temp 0 -n 256 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string golden = read_text_file(test::shared("models/stories260K/greedy_reference_256steps.txt"));
  std::string golden_text = golden.substr(golden.find("\nOnce") + 1);
  while (!golden_text.empty() && golden_text.back() == '\n') golden_text.pop_back();
  EXPECT_EQ(r.out.substr(0, golden_text.size()), golden_text);
  EXPECT_NE(r.err.find("tok/s"), std::string::npos) << r.err;
}

TEST(Cli, SamplingIsReproducibleWithASeed) {
  std::string args = "generate --model " + test::stories_model() + " -p 'Once upon' -n 40 --temp 1 --top-p 0.9 --seed 7";
  auto a = test::run_binq(args), b = test::run_binq(args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(a.out.rfind("Once upon", 0), 0u) << a.out;
}

TEST(Cli, PerplexityJsonHasNumericPpl) {
  const std::string text = test::temp_dir("ppl") + "/text.txt";
  std::string story = read_text_file(test::shared("data/tinystories/tinystories_val.txt")).substr(0, 20000);
  test::write_bytes(text, story);
  auto r = test::run_binq("perplexity --model " + test::stories_model() + " --file " + text + " --ctx 256 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j["ppl"].is_number());
  EXPECT_GT(j["ppl"].get<double>(), 1.0);
  EXPECT_LT(j["ppl"].get<double>(), 50.0);  // a trained model on in-domain text
  EXPECT_EQ(j["protocol"], "paper");
  EXPECT_EQ(j["tokens_scored"].get<int>(), j["windows"].get<int>() * 255);

  auto l = test::run_binq("perplexity --model " + test::stories_model() + " --file " + text + " --protocol llamacpp --json");
  ASSERT_EQ(l.exit_code, 0) << l.err;
  auto jl = nlohmann::json::parse(l.out);
  EXPECT_EQ(jl["ctx"], 512);
  EXPECT_EQ(jl["tokens_scored"].get<int>(), jl["windows"].get<int>() * 255);
}

TEST(Cli, BadInputGivesAClearError) {
  auto missing = test::run_binq("generate --model /nonexistent/model.bin -n 1");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/model.bin"), std::string::npos) << missing.err;

  auto dataset = test::run_binq("perplexity --model " + test::stories_model() + " --dataset nosuch");
  EXPECT_EQ(dataset.exit_code, 1);
  EXPECT_NE(dataset.err.find("nosuch"), std::string::npos) << dataset.err;

  auto protocol = test::run_binq("perplexity --model " + test::stories_model() + " --dataset tinystories --protocol x");
  EXPECT_EQ(protocol.exit_code, 1);
  EXPECT_NE(protocol.err.find("--protocol"), std::string::npos) << protocol.err;

  auto bench = test::run_binq("bench --synth tiny -o yaml -r 1 -p 8 -n 2");
  EXPECT_EQ(bench.exit_code, 1);
  EXPECT_NE(bench.err.find("--output"), std::string::npos) << bench.err;
}

TEST(Cli, BenchPrintsEveryFormat) {
  auto md = test::run_binq("bench --synth tiny -p 16 -n 4 -r 2");
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(md.out.find("| pp16 |"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("| tg4 |"), std::string::npos) << md.out;
  auto js = test::run_binq("bench --synth tiny -p 16 -n 4 -r 2 -o json");
  ASSERT_EQ(js.exit_code, 0) << js.err;
  auto j = nlohmann::json::parse(js.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["samples"].size(), 2u);
  EXPECT_GT(j[1]["tokens_per_s"].get<double>(), 0);
  auto csv = test::run_binq("bench --synth tiny -p 16 -n 0 -r 1 -o csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(csv.out.rfind("model,size_bytes", 0), 0u);
}

// The ISA matrix a user (and the test script) reads; BINQ_ISA_MAX masks the ISAs above it.
TEST(Cli, SystemInfoNamesEveryIsaAndHonoursTheMask) {
  auto r = test::run_binq("system-info --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["isas"].size(), 3u);
  EXPECT_TRUE(j["isas"][0]["runs"].get<bool>());  // scalar runs everywhere
  ASSERT_EQ(setenv("BINQ_ISA_MAX", "scalar", 1), 0);
  auto masked = test::run_binq("system-info --json");
  auto bad = test::run_binq("system-info");
  ASSERT_EQ(setenv("BINQ_ISA_MAX", "sse9", 1), 0);
  auto unknown = test::run_binq("system-info");
  ASSERT_EQ(unsetenv("BINQ_ISA_MAX"), 0);
  ASSERT_EQ(masked.exit_code, 0) << masked.err;
  const auto m = nlohmann::json::parse(masked.out);
  EXPECT_EQ(m["active_isa"], "scalar");
  for (int i : {1, 2}) {
    EXPECT_FALSE(m["isas"][i]["runs"].get<bool>());
    EXPECT_NE(m["isas"][i]["reason"].get<std::string>().find("BINQ_ISA_MAX=scalar"), std::string::npos)
        << m["isas"][i]["reason"];
  }
  EXPECT_NE(bad.out.find("isa avx2: no, masked by BINQ_ISA_MAX=scalar"), std::string::npos) << bad.out;
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("BINQ_ISA_MAX"), std::string::npos) << unknown.err;
}

}  // namespace
}  // namespace binq
