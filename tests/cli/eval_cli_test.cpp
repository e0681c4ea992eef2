// binq eval end to end on a few items: the table, the JSON, and a clear error for a bad task.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/run_binq.h"
#include "common/test_util.h"

namespace binq {
namespace {

TEST(EvalCli, ShortRunProducesTableAndJson) {
  auto r = test::run_binq("eval -m " + test::stories_model() + " --tasks piqa,arc_easy,boolq,winogrande,mmlu --limit 12 -q --json -");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  for (const char* task : {"piqa", "arc_easy", "boolq", "winogrande"}) {
    ASSERT_TRUE(j["tasks"].contains(task)) << r.out;
    EXPECT_EQ(j["tasks"][task]["n"], 12) << task;
    double acc = j["tasks"][task]["acc"];
    EXPECT_GE(acc, 0.0);
    EXPECT_LE(acc, 1.0);
  }
  EXPECT_EQ(j["mmlu"]["total"]["n"], 12);
  EXPECT_NE(r.err.find("| PIQA |"), std::string::npos) << r.err;  // paper-layout table header
}

TEST(EvalCli, UnknownTaskIsNamed) {
  auto r = test::run_binq("eval -m " + test::stories_model() + " --tasks piqa,nosuchtask --limit 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nosuchtask"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace binq
