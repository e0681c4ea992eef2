#include "binq/eval/report.h"

#include <fmt/format.h>

#include "binq/eval/metrics.h"
#include "binq/eval/progress.h"

namespace binq::eval {

namespace {
MmluGroupScore group_score(const std::vector<uint8_t>& correct) {
  auto m = mean_stderr(correct);
  return {m.mean, m.stderr_, int64_t(correct.size())};
}
std::string pct(double v) { return fmt::format("{:.2f}", 100.0 * v); }
}  // namespace

MmluSummary summarize_mmlu(const McTask& task, const TaskResult& result) {
  MmluSummary s;
  std::map<std::string, std::vector<uint8_t>> by_subject;
  std::vector<uint8_t> by_category[kMmluCategories];
  for (int64_t i = 0; i < result.n; ++i) {
    const std::string& subject = task.items[i].subject;
    by_subject[subject].push_back(result.correct[i]);
    by_category[int(mmlu_category(subject))].push_back(result.correct[i]);
  }
  for (const auto& [name, c] : by_subject) s.subjects[name] = group_score(c);
  for (int k = 0; k < kMmluCategories; ++k) s.categories[k] = group_score(by_category[k]);
  s.total = group_score(result.correct);
  return s;
}

std::string zero_shot_table(const std::string& model_label, const std::vector<TaskResult>& results) {
  std::string head = "| Model |", rule = "|---|", row = "| " + model_label + " |";
  double sum = 0;
  int count = 0;
  for (const auto& name : zero_shot_task_names()) {
    head += fmt::format(" {} |", task_title(name));
    rule += "---:|";
    const TaskResult* found = nullptr;
    for (const auto& r : results)
      if (r.name == name) found = &r;
    if (found) {
      row += fmt::format(" {} |", pct(found->paper_value()));
      sum += found->paper_value();
      ++count;
    } else {
      row += " - |";
    }
  }
  head += " Avg. |";
  rule += "---:|";
  const bool partial = count < int(zero_shot_task_names().size());
  row += count ? fmt::format(" {}{} |", pct(sum / count), partial ? "*" : "") : std::string(" - |");
  std::string out = head + "\n" + rule + "\n" + row + "\n";
  out += "\nacc_norm for PIQA, ARC-e, ARC-c, HellaSwag; acc for BoolQ, WinoGrande (percent).";
  if (count && count < int(zero_shot_task_names().size())) out += " *average over the tasks run only.";
  return out + "\n";
}

std::string mmlu_table(const std::string& model_label, const MmluSummary& s) {
  std::string out = "| Model | STEM | Humanities | Social Sciences | Other | Avg. |\n|---|---:|---:|---:|---:|---:|\n";
  out += "| " + model_label + " |";
  for (int k = 0; k < kMmluCategories; ++k)
    out += fmt::format(" {} |", s.categories[k].n ? pct(s.categories[k].acc) : std::string("-"));
  out += fmt::format(" {} |\n", pct(s.total.acc));
  out += fmt::format("\nMMLU {}-shot acc (percent), averaged over questions; {} questions", s.shots, s.total.n);
  if (s.build.shots_dropped)
    out += fmt::format("; {} prompts had shots dropped to fit the model context", s.build.shots_dropped);
  if (s.build.too_long) out += fmt::format("; {} were left-truncated even with 0 shots", s.build.too_long);
  return out + ".\n";
}

std::string detail_table(const std::vector<TaskResult>& results) {
  std::string out = "| Task | n | acc | acc_norm | runtime | truncated |\n|---|---:|---:|---:|---:|---:|\n";
  for (const auto& r : results)
    out += fmt::format("| {} | {} | {} ± {} | {} ± {} | {} | {} |\n", r.name, r.n, pct(r.acc), pct(r.acc_stderr),
                       pct(r.acc_norm), pct(r.acc_norm_stderr), format_duration(r.seconds), r.truncated);
  return out;
}

nlohmann::json result_json(const TaskResult& r) {
  return {{"n", r.n},
          {"acc", r.acc},
          {"acc_stderr", r.acc_stderr},
          {"acc_norm", r.acc_norm},
          {"acc_norm_stderr", r.acc_norm_stderr},
          {"paper_metric", r.paper_metric},
          {"runtime_s", r.seconds},
          {"truncated", r.truncated},
          {"tokens_forwarded", r.tokens_forwarded}};
}

nlohmann::json mmlu_json(const MmluSummary& s) {
  auto g = [](const MmluGroupScore& x) { return nlohmann::json{{"acc", x.acc}, {"acc_stderr", x.stderr_}, {"n", x.n}}; };
  nlohmann::json j;
  j["shots"] = s.shots;
  j["shots_dropped"] = s.build.shots_dropped;
  j["too_long_with_0_shots"] = s.build.too_long;
  j["total"] = g(s.total);
  for (int k = 0; k < kMmluCategories; ++k) j["categories"][mmlu_category_name(MmluCategory(k))] = g(s.categories[k]);
  for (const auto& [name, x] : s.subjects) j["subjects"][name] = g(x);
  return j;
}

}  // namespace binq::eval
