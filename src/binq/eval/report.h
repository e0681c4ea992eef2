// Result tables in the paper's layout (markdown) and the machine-readable JSON of `binq eval`.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "binq/eval/mmlu.h"
#include "binq/eval/scorer.h"

namespace binq::eval {

struct MmluGroupScore {
  double acc = 0, stderr_ = 0;
  int64_t n = 0;
};
struct MmluSummary {
  std::map<std::string, MmluGroupScore> subjects;  // only subjects with scored items
  MmluGroupScore categories[kMmluCategories];
  MmluGroupScore total;
  int shots = 0;
  MmluBuildStats build;
};
// Category and total accuracies are averages over questions (weighted by subject size), as the
// harness' mmlu group and the MMLU reference code compute them.
MmluSummary summarize_mmlu(const McTask& task, const TaskResult& result);

// | Model | PIQA | ARC-e | ARC-c | BoolQ | HellaSwag | WinoGrande | Avg. | with the paper's metric per
// task in percent; tasks not run show "-" and are left out of the average.
std::string zero_shot_table(const std::string& model_label, const std::vector<TaskResult>& results);
// | Model | STEM | Humanities | Social Sciences | Other | Avg. |
std::string mmlu_table(const std::string& model_label, const MmluSummary& summary);
// | Task | n | acc | acc_norm | runtime | truncated | for every result.
std::string detail_table(const std::vector<TaskResult>& results);

nlohmann::json result_json(const TaskResult& r);
nlohmann::json mmlu_json(const MmluSummary& s);

}  // namespace binq::eval
