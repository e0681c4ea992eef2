// MMLU: CSV loading, the subject -> category mapping and k-shot prompts in the
// lm-evaluation-harness layout.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "binq/eval/tasks.h"

namespace binq::eval {

enum class MmluCategory { Stem = 0, Humanities, SocialSciences, Other };
inline constexpr int kMmluCategories = 4;
const char* mmlu_category_name(MmluCategory c);  // "STEM", "Humanities", "Social Sciences", "Other"

struct MmluSubject {
  const char* name;  // file stem, e.g. "high_school_physics"
  MmluCategory category;
};
// All 57 subjects, alphabetical.
const std::vector<MmluSubject>& mmlu_subjects();
// Fails naming the subject if it is not one of the 57.
MmluCategory mmlu_category(const std::string& subject);

struct MmluQuestion {
  std::string subject;
  std::string question;
  std::array<std::string, 4> options;
  int answer = 0;  // 0..3 for A..D
};

// Reads <data_dir>/mmlu/<split>/<subject>_<split>.csv for all 57 subjects, in subject order
// then file order. Fails if a file is missing or a row is not question,A,B,C,D,answer.
std::vector<MmluQuestion> load_mmlu_split(const std::string& data_dir, const std::string& split);
// Parses one CSV file's text (exposed for tests); `source` names it in messages.
std::vector<MmluQuestion> parse_mmlu_csv(const std::string& text, const std::string& subject,
                                         const std::string& source);

// "The following are multiple choice questions (with answers) about high school physics.\n\n"
std::string mmlu_description(const std::string& subject);
// "{question}\nA. ..\nB. ..\nC. ..\nD. ..\nAnswer:" (+ " X" when with_answer).
std::string mmlu_format(const MmluQuestion& q, bool with_answer);
// Description + the shots (each followed by "\n\n") + the test question without answer.
std::string mmlu_prompt(const MmluQuestion& q, const std::vector<const MmluQuestion*>& shots);

struct MmluBuildStats {
  int64_t items = 0;
  int64_t shots_dropped = 0;  // items that got fewer than the requested shots (prompt too long)
  int64_t too_long = 0;       // items still longer than the budget with 0 shots (left-truncated later)
};

// Counts the tokens a string will have (context encoding, BOS included if used).
using TokenCounter = std::function<int(const std::string&)>;

// One McItem per test question with continuations " A".." D". Shots come from the first `shots`
// dev questions of the same subject (harness: first_n sampler). When the prompt plus a
// continuation would exceed `max_tokens`, shots are dropped from the end one by one; when even
// 0 shots do not fit, the item is left as it is (the scorer truncates from the left).
McTask build_mmlu_task(const std::vector<MmluQuestion>& test, const std::vector<MmluQuestion>& dev,
                       int shots, const TokenCounter& count_tokens, int max_tokens, MmluBuildStats* stats);

}  // namespace binq::eval
