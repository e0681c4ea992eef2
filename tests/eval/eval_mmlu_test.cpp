// MMLU: loading all 57 subjects with exact counts, the category mapping and prompt building.
#include <gtest/gtest.h>

#include <set>

#include "binq/core/error.h"
#include "binq/core/paths.h"
#include "binq/eval/mmlu.h"
#include "common/test_util.h"

using namespace binq::eval;

namespace {
std::string data_dir() { return binq::test::shared("data"); }

MmluQuestion make_q(const std::string& subject, const std::string& text, int answer) {
  MmluQuestion q;
  q.subject = subject;
  q.question = text;
  q.options = {"w", "x", "y", "z"};
  q.answer = answer;
  return q;
}
}  // namespace

TEST(Mmlu, SplitCounts) {
  EXPECT_EQ(load_mmlu_split(data_dir(), "test").size(), 14042u);
  auto dev = load_mmlu_split(data_dir(), "dev");
  EXPECT_EQ(dev.size(), 285u);
  EXPECT_EQ(load_mmlu_split(data_dir(), "val").size(), 1531u);
  EXPECT_THROW(load_mmlu_split(data_dir(), "train"), binq::Error);
}

TEST(Mmlu, CategoryMappingCoversEverySubjectFile) {
  const auto& subjects = mmlu_subjects();
  ASSERT_EQ(subjects.size(), 57u);
  std::set<std::string> names;
  int per_category[kMmluCategories] = {};
  for (const auto& s : subjects) {
    names.insert(s.name);
    ++per_category[int(s.category)];
    EXPECT_TRUE(binq::path_exists(data_dir() + "/mmlu/test/" + s.name + "_test.csv")) << s.name;
  }
  EXPECT_EQ(names.size(), 57u) << "duplicate subject";
  // Harness grouping: 19 STEM, 13 humanities, 12 social sciences, 13 other.
  EXPECT_EQ(per_category[int(MmluCategory::Stem)], 19);
  EXPECT_EQ(per_category[int(MmluCategory::Humanities)], 13);
  EXPECT_EQ(per_category[int(MmluCategory::SocialSciences)], 12);
  EXPECT_EQ(per_category[int(MmluCategory::Other)], 13);
  EXPECT_EQ(mmlu_category("professional_law"), MmluCategory::Humanities);
  EXPECT_EQ(mmlu_category("econometrics"), MmluCategory::SocialSciences);
  EXPECT_EQ(mmlu_category("virology"), MmluCategory::Other);
  EXPECT_EQ(mmlu_category("machine_learning"), MmluCategory::Stem);
  EXPECT_THROW(mmlu_category("astrology"), binq::Error);
}

TEST(Mmlu, CsvWithQuotedCommasParsesIntoSixFields) {
  auto qs = parse_mmlu_csv(
      "\"Statement 1 | a, b. Statement 2 | c\",\"True, True\",\"False, False\",\"True, False\",\"False, True\",B\n"
      "\"multi\nline \"\"q\"\"\",1,2,3,4,D\n",
      "abstract_algebra", "t.csv");
  ASSERT_EQ(qs.size(), 2u);
  EXPECT_EQ(qs[0].question, "Statement 1 | a, b. Statement 2 | c");
  EXPECT_EQ(qs[0].options[3], "False, True");
  EXPECT_EQ(qs[0].answer, 1);
  EXPECT_EQ(qs[1].question, "multi\nline \"q\"");
  EXPECT_EQ(qs[1].answer, 3);
  EXPECT_THROW(parse_mmlu_csv("q,a,b,c,d\n", "x", "t.csv"), binq::Error);
  EXPECT_THROW(parse_mmlu_csv("q,a,b,c,d,E\n", "x", "t.csv"), binq::Error);
}

TEST(Mmlu, PromptLayout) {
  auto shot = make_q("high_school_physics", "Shot?", 2);
  auto q = make_q("high_school_physics", "  Test?\n", 0);
  EXPECT_EQ(mmlu_prompt(q, {&shot}),
            "The following are multiple choice questions (with answers) about high school physics.\n\n"
            "Shot?\nA. w\nB. x\nC. y\nD. z\nAnswer: C\n\n"
            "Test?\nA. w\nB. x\nC. y\nD. z\nAnswer:");
}

TEST(Mmlu, BuildTaskUsesFirstDevShotsAndDropsWhenTooLong) {
  std::vector<MmluQuestion> dev, test;
  for (int i = 0; i < 5; ++i) dev.push_back(make_q("anatomy", "dev" + std::to_string(i), i % 4));
  test.push_back(make_q("anatomy", "short", 1));
  test.push_back(make_q("anatomy", std::string(600, 'L'), 3));
  // A fake tokenizer: one token per 4 bytes. The short prompt is 72 tokens with 5 shots, the long
  // one 175 tokens with 0 shots and 9 more per shot. Budget 200 (202 minus 2 for the answer).
  TokenCounter count = [](const std::string& s) { return int(s.size() / 4); };
  MmluBuildStats st;
  auto t = build_mmlu_task(test, dev, 5, count, 202, &st);
  ASSERT_EQ(t.items.size(), 2u);
  const auto& p0 = t.items[0].choices[0].context;
  EXPECT_NE(p0.find("dev4\nA."), std::string::npos);
  EXPECT_EQ(t.items[0].gold, 1);
  EXPECT_EQ(t.items[0].subject, "anatomy");
  ASSERT_EQ(t.items[0].choices.size(), 4u);
  EXPECT_EQ(t.items[0].choices[2].continuation, " C");
  // The long question keeps the first 2 shots (193 tokens); shots are dropped from the end.
  const auto& p1 = t.items[1].choices[0].context;
  EXPECT_EQ(count(p1), 193);
  EXPECT_NE(p1.find("dev1\nA."), std::string::npos);
  EXPECT_EQ(p1.find("dev2"), std::string::npos);
  EXPECT_EQ(st.items, 2);
  EXPECT_EQ(st.shots_dropped, 1);
  EXPECT_EQ(st.too_long, 0);
  // Budget 50: the short one keeps 2 shots (45 tokens); the long one fits with no shots at all.
  auto t2 = build_mmlu_task(test, dev, 5, count, 52, &st);
  EXPECT_EQ(st.shots_dropped, 2);
  EXPECT_EQ(st.too_long, 1);
  EXPECT_EQ(count(t2.items[0].choices[0].context), 45);
  EXPECT_EQ(t2.items[1].choices[0].context.find("dev0"), std::string::npos);
  // 0-shot: description + question only.
  auto t0 = build_mmlu_task(test, dev, 0, count, 1000, &st);
  EXPECT_EQ(t0.items[0].choices[0].context,
            "The following are multiple choice questions (with answers) about anatomy.\n\n"
            "short\nA. w\nB. x\nC. y\nD. z\nAnswer:");
  EXPECT_EQ(st.shots_dropped, 0);
  EXPECT_THROW(build_mmlu_task(test, dev, 6, count, 1000, &st), binq::Error);
}

TEST(Mmlu, RealDevShotsAreFiveLetteredExamples) {
  auto dev = load_mmlu_split(data_dir(), "dev");
  auto test = load_mmlu_split(data_dir(), "test");
  test.resize(3);
  auto t = build_mmlu_task(test, dev, 5, nullptr, 100000, nullptr);
  const std::string& p = t.items[0].choices[0].context;
  size_t answers = 0;
  for (size_t pos = 0; (pos = p.find("\nAnswer:", pos)) != std::string::npos; ++pos) ++answers;
  EXPECT_EQ(answers, 6u);  // 5 shots + the question
  EXPECT_EQ(p.rfind("The following are multiple choice questions (with answers) about abstract algebra.\n\n", 0), 0u);
  EXPECT_EQ(p.substr(p.size() - 8), "\nAnswer:");
}
