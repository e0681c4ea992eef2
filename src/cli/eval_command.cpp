// `binq eval`: zero-shot multiple-choice tasks and MMLU in lm-evaluation-harness conventions
// (docs/eval.md). Prints the paper-layout tables; --json writes per-task details.
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "binq/core/error.h"
#include "binq/core/mapped_file.h"
#include "binq/core/paths.h"
#include "binq/eval/mmlu.h"
#include "binq/eval/report.h"
#include "binq/eval/scorer.h"
#include "binq/eval/tasks.h"
#include "cli/command.h"
#include "cli/model_loading.h"

namespace binq::cli {
namespace {

struct EvalArgs {
  ModelOptions model;
  std::string tasks = "all";
  int shots = 5;
  int64_t limit = 0;
  std::string json_path;
  std::string data_dir;
  std::string parallel = "items";
  int max_context = 0;
  bool bos = false;
  bool quiet = false;
};

std::vector<std::string> parse_task_list(const std::string& spec) {
  std::vector<std::string> out;
  std::stringstream ss(spec);
  std::string name;
  while (std::getline(ss, name, ',')) {
    if (name.empty()) continue;
    if (name == "all" || name == "zeroshot") {
      for (const auto& t : eval::zero_shot_task_names()) out.push_back(t);
      if (name == "all") out.push_back("mmlu");
      continue;
    }
    bool known = name == "mmlu";
    for (const auto& t : eval::zero_shot_task_names()) known = known || t == name;
    if (!known)
      fail("--tasks: unknown task '{}' (expected a comma list of piqa, arc_easy, arc_challenge, boolq, "
           "hellaswag, winogrande, mmlu, or 'zeroshot' / 'all')", name);
    out.push_back(name);
  }
  if (out.empty()) fail("--tasks: no task given (expected e.g. piqa,arc_easy or all)");
  return out;
}

void run_eval(const EvalArgs& a) {
  set_threads(a.model.threads);
  if (a.parallel != "items" && a.parallel != "model")
    fail("--parallel must be 'items' or 'model' (got '{}')", a.parallel);
  const auto tasks = parse_task_list(a.tasks);
  const std::string data_dir = a.data_dir.empty() ? shared_dir() + "/data" : a.data_dir;
  if (!is_directory(data_dir)) fail("--data-dir {}: not a directory (expected the shared data folder)", data_dir);

  LoadedModel loaded = a.model.open();
  const bool json_stdout = a.json_path == "-";
  // With --json - the JSON owns stdout; the tables then go to stderr.
  std::FILE* text_out = json_stdout ? stderr : stdout;
  if (!a.quiet) std::fprintf(stderr, "model: %s\ntokenizer: %s\n", loaded.description.c_str(),
                             loaded.tokenizer->describe().c_str());

  eval::ScoreOptions opt;
  opt.max_context = a.max_context;
  opt.add_bos = a.bos;
  opt.parallel_items = a.parallel == "items";
  opt.progress = !a.quiet;
  eval::Evaluator evaluator(*loaded.model, *loaded.tokenizer, opt);

  std::vector<eval::TaskResult> zero_shot;
  std::optional<eval::MmluSummary> mmlu;
  std::optional<eval::TaskResult> mmlu_result;
  for (const auto& name : tasks) {
    auto t_load = std::chrono::steady_clock::now();
    if (name == "mmlu") {
      auto test = eval::load_mmlu_split(data_dir, "test");
      auto dev = eval::load_mmlu_split(data_dir, "dev");
      if (a.limit > 0 && int64_t(test.size()) > a.limit) test.resize(size_t(a.limit));
      eval::MmluBuildStats build;
      auto task = eval::build_mmlu_task(
          test, dev, a.shots, [&](const std::string& s) { return evaluator.count_context_tokens(s); },
          evaluator.max_context(), &build);
      auto r = evaluator.run(task, a.limit);
      // Runtime includes loading and prompt building (tokenizing prompts to drop shots).
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
      auto s = eval::summarize_mmlu(task, r);
      s.shots = a.shots;
      s.build = build;
      mmlu = s;
      mmlu_result = r;
    } else {
      auto task = eval::load_zero_shot_task(name, data_dir);
      auto r = evaluator.run(task, a.limit);
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
      zero_shot.push_back(std::move(r));
    }
  }

  const std::string label = a.model.model;
  std::string text;
  if (!zero_shot.empty()) text += eval::zero_shot_table(label, zero_shot) + "\n";
  if (mmlu) text += eval::mmlu_table(label, *mmlu) + "\n";
  std::vector<eval::TaskResult> all = zero_shot;
  if (mmlu_result) all.push_back(*mmlu_result);
  text += eval::detail_table(all);
  if (a.limit > 0) text += fmt::format("\n--limit {}: partial evaluation, not comparable with full runs.\n", a.limit);
  std::fputs(text.c_str(), text_out);

  if (!a.json_path.empty()) {
    nlohmann::json j;
    j["model"] = a.model.model;
    j["tokenizer"] = loaded.tokenizer->describe();
    j["max_context"] = evaluator.max_context();
    j["add_bos"] = a.bos;
    j["limit"] = a.limit;
    j["parallel"] = a.parallel;
    j["threads"] = omp_get_max_threads();
    for (const auto& r : all) j["tasks"][r.name] = eval::result_json(r);
    if (mmlu) j["mmlu"] = eval::mmlu_json(*mmlu);
    const std::string dumped = j.dump(2) + "\n";
    if (json_stdout)
      std::fputs(dumped.c_str(), stdout);
    else
      write_file_atomic(a.json_path, dumped.data(), dumped.size());
  }
}

void setup(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Zero-shot multiple choice (PIQA, ARC, BoolQ, HellaSwag, WinoGrande) and MMLU, harness conventions");
  args->model.add_to(cmd);
  cmd->add_option("--tasks", args->tasks,
                  "comma list: piqa,arc_easy,arc_challenge,boolq,hellaswag,winogrande,mmlu; 'zeroshot' = the six, "
                  "'all' = the six + mmlu")
      ->capture_default_str();
  cmd->add_option("--shots", args->shots, "MMLU few-shot examples from the dev split (0-5)")->capture_default_str();
  cmd->add_option("--limit", args->limit, "score only the first N items of each task (0 = all)");
  cmd->add_option("--json", args->json_path, "write per-task results as JSON to FILE, or '-' for stdout");
  cmd->add_option("--data-dir", args->data_dir, "dataset folder (default: <shared>/data)");
  cmd->add_option("--parallel", args->parallel,
                  "'items': one OpenMP thread per item, each with its own KV cache; 'model': items in order, "
                  "threads inside the model")
      ->capture_default_str();
  cmd->add_option("--max-context", args->max_context, "model context in tokens (default: the model's max_seq_len)");
  cmd->add_flag("--bos", args->bos, "prepend BOS to every context (the harness does not for LLaMA)");
  cmd->add_flag("-q,--quiet", args->quiet, "no progress lines");
  cmd->callback([args] { run_eval(*args); });
}

static Registrar reg("eval", setup);

}  // namespace
}  // namespace binq::cli
