// Benchmark parsers: every file is read whole with the published counts, and the prompt
// templates produce the harness strings.
#include <gtest/gtest.h>

#include "binq/core/error.h"
#include "binq/eval/tasks.h"
#include "common/test_util.h"

using namespace binq::eval;

namespace {
std::string data_dir() { return binq::test::shared("data"); }

void expect_well_formed(const McTask& task, size_t n_choices_min, size_t n_choices_max) {
  for (size_t i = 0; i < task.items.size(); ++i) {
    const McItem& it = task.items[i];
    ASSERT_GE(it.choices.size(), n_choices_min) << task.name << " item " << i;
    ASSERT_LE(it.choices.size(), n_choices_max) << task.name << " item " << i;
    ASSERT_GE(it.gold, 0);
    ASSERT_LT(it.gold, int(it.choices.size()));
    for (const auto& c : it.choices) {
      ASSERT_FALSE(c.context.empty()) << task.name << " item " << i;
      ASSERT_GE(c.continuation.size(), 2u) << task.name << " item " << i;
      ASSERT_EQ(c.continuation[0], ' ') << task.name << " item " << i;
    }
  }
}
}  // namespace

TEST(Tasks, PiqaCountAndTemplate) {
  auto t = load_piqa(data_dir());
  EXPECT_EQ(t.items.size(), 1838u);
  EXPECT_EQ(t.paper_metric, "acc_norm");
  expect_well_formed(t, 2, 2);
  EXPECT_EQ(t.items[0].choices[0].context, "Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:");
  EXPECT_EQ(t.items[0].choices[0].continuation.substr(0, 33), " Provide the guinea pig with a ca");
  EXPECT_EQ(t.items[0].gold, 0);
  EXPECT_EQ(t.items[1].gold, 1);
}

TEST(Tasks, ArcCountsAndNumericLabels) {
  auto e = load_arc(data_dir(), false);
  auto c = load_arc(data_dir(), true);
  EXPECT_EQ(e.items.size(), 2376u);
  EXPECT_EQ(c.items.size(), 1172u);
  expect_well_formed(e, 3, 5);
  expect_well_formed(c, 3, 5);
  EXPECT_EQ(e.items[0].choices[0].context,
            "Question: Which statement best explains why photosynthesis is the foundation of most food webs?\nAnswer:");
  EXPECT_EQ(e.items[0].choices[0].continuation, " Sunlight is the source of energy for nearly all ecosystems.");
  EXPECT_EQ(e.items[1].gold, 1);  // answerKey "B"
}

TEST(Tasks, BoolqCountAndTemplate) {
  auto t = load_boolq(data_dir());
  EXPECT_EQ(t.items.size(), 3270u);
  EXPECT_EQ(t.paper_metric, "acc");
  expect_well_formed(t, 2, 2);
  const auto& ctx = t.items[0].choices[0].context;
  EXPECT_EQ(ctx.rfind("All biomass goes through", 0), 0u) << "the 'Passage: ' label is removed";
  const std::string tail = "\nQuestion: does ethanol take more energy make that produces?\nAnswer:";
  ASSERT_GE(ctx.size(), tail.size());
  EXPECT_EQ(ctx.substr(ctx.size() - tail.size()), tail);
  EXPECT_EQ(t.items[0].choices[0].continuation, " no");
  EXPECT_EQ(t.items[0].choices[1].continuation, " yes");
  EXPECT_EQ(t.items[0].gold, 0);
}

TEST(Tasks, HellaswagCountAndPreprocessing) {
  auto t = load_hellaswag(data_dir());
  EXPECT_EQ(t.items.size(), 10042u);
  expect_well_formed(t, 4, 4);
  // ctx_b "he" is capitalized as the harness does.
  EXPECT_EQ(t.items[0].choices[0].context, "Roof shingle removal: A man is sitting on a roof. He");
  EXPECT_EQ(t.items[0].choices[0].continuation, " is using wrap to wrap a pair of skis.");
  EXPECT_EQ(t.items[0].gold, 3);
  // Same result as the harness in Python (single-pass replace of "  ").
  EXPECT_EQ(hellaswag_preprocess("  A [title] B  [step] c  d "), "A. B  c d");
  EXPECT_EQ(hellaswag_context("Label: Something happens. the man"), "Label: Something happens. The man");
  EXPECT_EQ(hellaswag_context("Label: Something happens. Then"), "Label: Something happens. Then");
}

TEST(Tasks, WinograndeCountAndPartialScoring) {
  auto t = load_winogrande(data_dir());
  EXPECT_EQ(t.items.size(), 1267u);
  expect_well_formed(t, 2, 2);
  const auto& it = t.items[0];
  EXPECT_EQ(it.choices[0].context, "Sarah was a much better surgeon than Maria so Sarah");
  EXPECT_EQ(it.choices[1].context, "Sarah was a much better surgeon than Maria so Maria");
  EXPECT_EQ(it.choices[0].continuation, " always got the easier cases.");
  EXPECT_EQ(it.choices[1].continuation, it.choices[0].continuation);
  EXPECT_EQ(it.gold, 1);
}

TEST(Tasks, UnknownTaskAndMissingDirFail) {
  EXPECT_THROW(load_zero_shot_task("squad", data_dir()), binq::Error);
  EXPECT_THROW(load_piqa("/nonexistent-binq-dir"), binq::Error);
}

TEST(Tasks, ChoiceLengthExcludesDelimiterAndCountsCodePoints) {
  EXPECT_EQ(choice_length(" yes"), 3.0);
  EXPECT_EQ(choice_length("yes"), 3.0);
  EXPECT_EQ(choice_length(" caf\xc3\xa9"), 4.0);  // "café": 5 bytes, 4 code points
}
