#include "binq/eval/mmlu.h"

#include <map>

#include <fmt/format.h>

#include "binq/core/error.h"
#include "binq/core/mapped_file.h"
#include "binq/core/paths.h"
#include "binq/eval/csv.h"

namespace binq::eval {

const char* mmlu_category_name(MmluCategory c) {
  switch (c) {
    case MmluCategory::Stem: return "STEM";
    case MmluCategory::Humanities: return "Humanities";
    case MmluCategory::SocialSciences: return "Social Sciences";
    case MmluCategory::Other: return "Other";
  }
  return "?";
}

// The grouping of lm-evaluation-harness (tasks/mmlu/_generate_configs.py), which follows the
// MMLU paper's categories.py except that anatomy is counted as STEM there (health -> Other in
// the original). Using the harness grouping keeps our category averages comparable with
// papers that report harness numbers.
const std::vector<MmluSubject>& mmlu_subjects() {
  using C = MmluCategory;
  static const std::vector<MmluSubject> subjects = {
      {"abstract_algebra", C::Stem},
      {"anatomy", C::Stem},
      {"astronomy", C::Stem},
      {"business_ethics", C::Other},
      {"clinical_knowledge", C::Other},
      {"college_biology", C::Stem},
      {"college_chemistry", C::Stem},
      {"college_computer_science", C::Stem},
      {"college_mathematics", C::Stem},
      {"college_medicine", C::Other},
      {"college_physics", C::Stem},
      {"computer_security", C::Stem},
      {"conceptual_physics", C::Stem},
      {"econometrics", C::SocialSciences},
      {"electrical_engineering", C::Stem},
      {"elementary_mathematics", C::Stem},
      {"formal_logic", C::Humanities},
      {"global_facts", C::Other},
      {"high_school_biology", C::Stem},
      {"high_school_chemistry", C::Stem},
      {"high_school_computer_science", C::Stem},
      {"high_school_european_history", C::Humanities},
      {"high_school_geography", C::SocialSciences},
      {"high_school_government_and_politics", C::SocialSciences},
      {"high_school_macroeconomics", C::SocialSciences},
      {"high_school_mathematics", C::Stem},
      {"high_school_microeconomics", C::SocialSciences},
      {"high_school_physics", C::Stem},
      {"high_school_psychology", C::SocialSciences},
      {"high_school_statistics", C::Stem},
      {"high_school_us_history", C::Humanities},
      {"high_school_world_history", C::Humanities},
      {"human_aging", C::Other},
      {"human_sexuality", C::SocialSciences},
      {"international_law", C::Humanities},
      {"jurisprudence", C::Humanities},
      {"logical_fallacies", C::Humanities},
      {"machine_learning", C::Stem},
      {"management", C::Other},
      {"marketing", C::Other},
      {"medical_genetics", C::Other},
      {"miscellaneous", C::Other},
      {"moral_disputes", C::Humanities},
      {"moral_scenarios", C::Humanities},
      {"nutrition", C::Other},
      {"philosophy", C::Humanities},
      {"prehistory", C::Humanities},
      {"professional_accounting", C::Other},
      {"professional_law", C::Humanities},
      {"professional_medicine", C::Other},
      {"professional_psychology", C::SocialSciences},
      {"public_relations", C::SocialSciences},
      {"security_studies", C::SocialSciences},
      {"sociology", C::SocialSciences},
      {"us_foreign_policy", C::SocialSciences},
      {"virology", C::Other},
      {"world_religions", C::Humanities},
  };
  return subjects;
}

MmluCategory mmlu_category(const std::string& subject) {
  for (const auto& s : mmlu_subjects())
    if (subject == s.name) return s.category;
  fail("unknown MMLU subject '{}' (expected one of the 57 subjects, e.g. 'abstract_algebra')", subject);
}

std::vector<MmluQuestion> parse_mmlu_csv(const std::string& text, const std::string& subject,
                                         const std::string& source) {
  std::vector<MmluQuestion> out;
  auto rows = parse_csv(text, source);
  for (size_t r = 0; r < rows.size(); ++r) {
    const CsvRow& row = rows[r];
    if (row.size() != 6)
      fail("{}: record {} has {} fields (expected 6: question,A,B,C,D,answer)", source, r + 1, row.size());
    const std::string& a = row[5];
    if (a.size() != 1 || a[0] < 'A' || a[0] > 'D')
      fail("{}: record {}: expected the answer A, B, C or D, got '{}'", source, r + 1, a);
    MmluQuestion q;
    q.subject = subject;
    q.question = row[0];
    for (int k = 0; k < 4; ++k) q.options[k] = row[1 + k];
    q.answer = a[0] - 'A';
    out.push_back(std::move(q));
  }
  return out;
}

std::vector<MmluQuestion> load_mmlu_split(const std::string& data_dir, const std::string& split) {
  if (split != "test" && split != "dev" && split != "val")
    fail("unknown MMLU split '{}' (expected test, dev or val)", split);
  std::vector<MmluQuestion> out;
  for (const auto& s : mmlu_subjects()) {
    std::string path = data_dir + "/mmlu/" + split + "/" + s.name + "_" + split + ".csv";
    if (!path_exists(path)) fail("{}: MMLU file missing (expected one CSV per subject)", path);
    auto qs = parse_mmlu_csv(read_text_file(path), s.name, path);
    for (auto& q : qs) out.push_back(std::move(q));
  }
  return out;
}

std::string mmlu_description(const std::string& subject) {
  std::string pretty = subject;
  for (char& c : pretty)
    if (c == '_') c = ' ';
  return "The following are multiple choice questions (with answers) about " + pretty + ".\n\n";
}

namespace {
// Python's str.strip(): the harness template uses question.strip().
std::string strip(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}
}  // namespace

std::string mmlu_format(const MmluQuestion& q, bool with_answer) {
  std::string s = strip(q.question);
  for (int k = 0; k < 4; ++k) {
    s += '\n';
    s += char('A' + k);
    s += ". ";
    s += q.options[k];
  }
  s += "\nAnswer:";
  if (with_answer) {
    s += ' ';
    s += char('A' + q.answer);
  }
  return s;
}

std::string mmlu_prompt(const MmluQuestion& q, const std::vector<const MmluQuestion*>& shots) {
  std::string s = mmlu_description(q.subject);
  for (const MmluQuestion* shot : shots) s += mmlu_format(*shot, true) + "\n\n";
  return s + mmlu_format(q, false);
}

McTask build_mmlu_task(const std::vector<MmluQuestion>& test, const std::vector<MmluQuestion>& dev,
                       int shots, const TokenCounter& count_tokens, int max_tokens, MmluBuildStats* stats) {
  if (shots < 0) fail("--shots must be >= 0 (got {})", shots);
  std::map<std::string, std::vector<const MmluQuestion*>> dev_by_subject;
  for (const auto& q : dev) dev_by_subject[q.subject].push_back(&q);
  MmluBuildStats local;
  McTask task{"mmlu", "acc", {}};
  // Continuations are one letter; a margin of 2 tokens covers " X" in any tokenizer.
  const int budget = max_tokens - 2;
  for (const auto& q : test) {
    const auto& pool = dev_by_subject[q.subject];
    if (int(pool.size()) < shots)
      fail("MMLU dev split has {} questions for '{}' but --shots {} was asked", pool.size(), q.subject, shots);
    std::vector<const MmluQuestion*> use(pool.begin(), pool.begin() + shots);
    std::string prompt = mmlu_prompt(q, use);
    // Dropping shots costs one extra tokenization per dropped shot; only over-long prompts pay it.
    while (count_tokens && count_tokens(prompt) > budget && !use.empty()) {
      use.pop_back();
      prompt = mmlu_prompt(q, use);
    }
    if (int(use.size()) < shots) ++local.shots_dropped;
    if (count_tokens && use.empty() && count_tokens(prompt) > budget) ++local.too_long;
    McItem item;
    for (int k = 0; k < 4; ++k) item.choices.push_back({prompt, fmt::format(" {}", char('A' + k))});
    item.gold = q.answer;
    item.subject = q.subject;
    task.items.push_back(std::move(item));
    ++local.items;
  }
  if (stats) *stats = local;
  return task;
}

}  // namespace binq::eval
