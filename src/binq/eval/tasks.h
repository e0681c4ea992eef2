// Multiple-choice benchmarks read from the shared data folder and rendered into
// (context, continuation) pairs with the prompt templates of lm-evaluation-harness
// (docs/eval.md lists each template and why).
#pragma once
#include <string>
#include <vector>

namespace binq::eval {

// One answer option: the model scores log p(continuation | context).
struct Choice {
  std::string context;
  std::string continuation;  // starts with the harness' target delimiter " "
};

struct McItem {
  std::vector<Choice> choices;  // contexts are equal except for WinoGrande (partial scoring)
  int gold = 0;
  std::string subject;          // MMLU subject ("abstract_algebra"), empty elsewhere
};

struct McTask {
  std::string name;             // "piqa", "arc_easy", ... , "mmlu"
  std::string paper_metric;     // metric the paper's tables show: "acc" or "acc_norm"
  std::vector<McItem> items;
};

// The zero-shot tasks in the order of the paper's table.
const std::vector<std::string>& zero_shot_task_names();
// Column title of a task in the paper's table ("PIQA", "ARC-e", ...).
std::string task_title(const std::string& name);

// Loads one zero-shot task from `data_dir` (the shared data folder); fails on an unknown name.
McTask load_zero_shot_task(const std::string& name, const std::string& data_dir);

McTask load_piqa(const std::string& data_dir);
McTask load_arc(const std::string& data_dir, bool challenge);
McTask load_boolq(const std::string& data_dir);
McTask load_hellaswag(const std::string& data_dir);
McTask load_winogrande(const std::string& data_dir);

// HellaSwag text clean-up of the harness: strip, " [title]" -> ". ", drop "[...]" tags,
// "  " -> " ".
std::string hellaswag_preprocess(const std::string& text);
// The file holds "activity_label: ctx_a ctx_b" with ctx_b as written in the dataset; the harness
// capitalizes ctx_b. ctx_b is the fragment after the last ". "; it is capitalized when it starts
// with a lower-case letter (see docs/eval.md for why this reproduces the harness on this file).
std::string hellaswag_context(const std::string& file_line);

// Length used by acc_norm: the harness divides by len(choice) where the choice text excludes the
// target delimiter, so one leading ' ' is not counted; length is in Unicode code points (equal to
// bytes for ASCII text).
double choice_length(const std::string& continuation);

// Splits text into lines (handles a missing final newline and "\r\n").
std::vector<std::string> split_lines(const std::string& text);

}  // namespace binq::eval
