#include "binq/eval/tasks.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <regex>

#include "binq/core/error.h"
#include "binq/core/mapped_file.h"

namespace binq::eval {

using json = nlohmann::json;

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = nl + 1;
  }
  return lines;
}

namespace {

// Every non-empty line of a JSON-lines file, parsed; errors name file and line.
std::vector<json> read_jsonl(const std::string& path) {
  std::vector<json> out;
  auto lines = split_lines(read_text_file(path));
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    try {
      out.push_back(json::parse(lines[i]));
    } catch (const json::exception& e) {
      fail("{}:{}: expected one JSON object per line: {}", path, i + 1, e.what());
    }
  }
  return out;
}

// Non-empty lines of a label file, as integers.
std::vector<int> read_labels(const std::string& path) {
  std::vector<int> out;
  auto lines = split_lines(read_text_file(path));
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    try {
      size_t used = 0;
      out.push_back(std::stoi(lines[i], &used));
      if (used != lines[i].size()) throw std::invalid_argument("trailing text");
    } catch (const std::exception&) {
      fail("{}:{}: expected an integer label, got '{}'", path, i + 1, lines[i]);
    }
  }
  return out;
}

// A string field of a JSON record, failing with file/line and the missing key.
std::string get_string(const json& j, const char* key, const std::string& path, size_t line) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) fail("{}:{}: expected a string field \"{}\"", path, line, key);
  return it->get<std::string>();
}

McItem shared_context_item(const std::string& context, const std::vector<std::string>& options, int gold) {
  McItem item;
  for (const auto& o : options) item.choices.push_back({context, " " + o});
  item.gold = gold;
  return item;
}

}  // namespace

const std::vector<std::string>& zero_shot_task_names() {
  static const std::vector<std::string> names = {"piqa",      "arc_easy",  "arc_challenge",
                                                 "boolq",     "hellaswag", "winogrande"};
  return names;
}

std::string task_title(const std::string& name) {
  if (name == "piqa") return "PIQA";
  if (name == "arc_easy") return "ARC-e";
  if (name == "arc_challenge") return "ARC-c";
  if (name == "boolq") return "BoolQ";
  if (name == "hellaswag") return "HellaSwag";
  if (name == "winogrande") return "WinoGrande";
  if (name == "mmlu") return "MMLU";
  return name;
}

McTask load_zero_shot_task(const std::string& name, const std::string& data_dir) {
  if (name == "piqa") return load_piqa(data_dir);
  if (name == "arc_easy") return load_arc(data_dir, false);
  if (name == "arc_challenge") return load_arc(data_dir, true);
  if (name == "boolq") return load_boolq(data_dir);
  if (name == "hellaswag") return load_hellaswag(data_dir);
  if (name == "winogrande") return load_winogrande(data_dir);
  fail("unknown task '{}' (expected one of piqa, arc_easy, arc_challenge, boolq, hellaswag, winogrande, mmlu)",
       name);
}

McTask load_piqa(const std::string& data_dir) {
  const std::string path = data_dir + "/piqa/valid.jsonl";
  const std::string label_path = data_dir + "/piqa/valid-labels.lst";
  auto docs = read_jsonl(path);
  auto labels = read_labels(label_path);
  if (docs.size() != labels.size())
    fail("{}: {} records but {} has {} labels (expected one label per record)", path, docs.size(),
         label_path, labels.size());
  McTask task{"piqa", "acc_norm", {}};
  for (size_t i = 0; i < docs.size(); ++i) {
    if (labels[i] != 0 && labels[i] != 1) fail("{}:{}: expected label 0 or 1, got {}", label_path, i + 1, labels[i]);
    std::string ctx = "Question: " + get_string(docs[i], "goal", path, i + 1) + "\nAnswer:";
    task.items.push_back(shared_context_item(
        ctx, {get_string(docs[i], "sol1", path, i + 1), get_string(docs[i], "sol2", path, i + 1)}, labels[i]));
  }
  return task;
}

McTask load_arc(const std::string& data_dir, bool challenge) {
  const std::string path = challenge ? data_dir + "/arc_challenge/ARC-Challenge-Test.jsonl"
                                     : data_dir + "/arc_easy/ARC-Easy-Test.jsonl";
  McTask task{challenge ? "arc_challenge" : "arc_easy", "acc_norm", {}};
  auto docs = read_jsonl(path);
  for (size_t i = 0; i < docs.size(); ++i) {
    const json& d = docs[i];
    if (!d.contains("question") || !d["question"].is_object())
      fail("{}:{}: expected an object field \"question\"", path, i + 1);
    const json& q = d["question"];
    std::string stem = get_string(q, "stem", path, i + 1);
    std::string key = get_string(d, "answerKey", path, i + 1);
    if (!q.contains("choices") || !q["choices"].is_array() || q["choices"].size() < 2)
      fail("{}:{}: expected question.choices to be an array of at least 2 choices", path, i + 1);
    std::vector<std::string> options;
    int gold = -1;
    for (const json& c : q["choices"]) {
      // Labels are "A".."E" for most questions and "1".."5" for some; the key uses the same scheme.
      if (get_string(c, "label", path, i + 1) == key) gold = int(options.size());
      options.push_back(get_string(c, "text", path, i + 1));
    }
    if (gold < 0) fail("{}:{}: answerKey '{}' matches no choice label", path, i + 1, key);
    task.items.push_back(shared_context_item("Question: " + stem + "\nAnswer:", options, gold));
  }
  return task;
}

McTask load_boolq(const std::string& data_dir) {
  const std::string path = data_dir + "/boolq/boolq.jsonl";
  McTask task{"boolq", "acc", {}};
  auto docs = read_jsonl(path);
  for (size_t i = 0; i < docs.size(); ++i) {
    // The file stores "Passage: {passage}\nQuestion: {question}?"; the harness prompt is
    // "{passage}\nQuestion: {question}?\nAnswer:", so only the "Passage: " label is removed.
    std::string query = get_string(docs[i], "query", path, i + 1);
    const std::string prefix = "Passage: ";
    if (query.rfind(prefix, 0) != 0) fail("{}:{}: expected the query to start with \"Passage: \"", path, i + 1);
    // Passages may themselves contain "\nQuestion: "; the question is after the last one.
    if (query.rfind("\nQuestion: ") == std::string::npos)
      fail("{}:{}: expected \"\\nQuestion: \" in the query", path, i + 1);
    std::string ctx = query.substr(prefix.size());
    if (ctx.empty() || ctx.back() != '?') ctx += '?';
    ctx += "\nAnswer:";
    const json& choices = docs[i].value("choices", json());
    if (choices != json({"no", "yes"})) fail("{}:{}: expected choices [\"no\",\"yes\"]", path, i + 1);
    if (!docs[i].contains("gold") || !docs[i]["gold"].is_number_integer())
      fail("{}:{}: expected an integer field \"gold\"", path, i + 1);
    int gold = docs[i]["gold"].get<int>();
    if (gold != 0 && gold != 1) fail("{}:{}: expected gold 0 or 1, got {}", path, i + 1, gold);
    task.items.push_back(shared_context_item(ctx, {"no", "yes"}, gold));
  }
  return task;
}

std::string hellaswag_preprocess(const std::string& text) {
  auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  size_t b = 0, e = text.size();
  while (b < e && is_space(text[b])) ++b;
  while (e > b && is_space(text[e - 1])) --e;
  std::string s = text.substr(b, e - b);
  size_t p;
  while ((p = s.find(" [title]")) != std::string::npos) s.replace(p, 8, ". ");
  static const std::regex tag("\\[[^\\]]*?\\]");  // re.sub("\\[.*?\\]", "", text)
  s = std::regex_replace(s, tag, "");
  // Python's str.replace is a single left-to-right pass, not repeated until fixed point.
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    out.push_back(s[i]);
    if (s[i] == ' ' && i + 1 < s.size() && s[i + 1] == ' ') ++i;
  }
  return out;
}

std::string hellaswag_context(const std::string& file_line) {
  std::string ctx = file_line;
  size_t dot = ctx.rfind(". ");
  size_t start = dot == std::string::npos ? std::string::npos : dot + 2;
  if (start != std::string::npos && start < ctx.size() && ctx[start] >= 'a' && ctx[start] <= 'z')
    ctx[start] = char(ctx[start] - 'a' + 'A');
  return hellaswag_preprocess(ctx);
}

McTask load_hellaswag(const std::string& data_dir) {
  const std::string path = data_dir + "/hellaswag/hellaswag_val_full.txt";
  auto lines = split_lines(read_text_file(path));
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.size() % 6 != 0)
    fail("{}: expected 6 lines per task (context, gold, 4 endings), got {} lines", path, lines.size());
  McTask task{"hellaswag", "acc_norm", {}};
  for (size_t t = 0; t < lines.size(); t += 6) {
    const std::string& g = lines[t + 1];
    if (g.size() != 1 || g[0] < '0' || g[0] > '3')
      fail("{}:{}: expected the gold index 0-3, got '{}'", path, t + 2, g);
    std::vector<std::string> endings;
    for (int k = 0; k < 4; ++k) endings.push_back(hellaswag_preprocess(lines[t + 2 + k]));
    task.items.push_back(shared_context_item(hellaswag_context(lines[t]), endings, g[0] - '0'));
  }
  return task;
}

McTask load_winogrande(const std::string& data_dir) {
  const std::string path = data_dir + "/winogrande/dev.jsonl";
  const std::string label_path = data_dir + "/winogrande/dev-labels.lst";
  auto docs = read_jsonl(path);
  auto labels = read_labels(label_path);
  if (docs.size() != labels.size())
    fail("{}: {} records but {} has {} labels (expected one label per record)", path, docs.size(),
         label_path, labels.size());
  McTask task{"winogrande", "acc", {}};
  for (size_t i = 0; i < docs.size(); ++i) {
    std::string sentence = get_string(docs[i], "sentence", path, i + 1);
    size_t blank = sentence.find('_');
    if (blank == std::string::npos) fail("{}:{}: expected a '_' blank in the sentence", path, i + 1);
    if (labels[i] != 1 && labels[i] != 2) fail("{}:{}: expected label 1 or 2, got {}", label_path, i + 1, labels[i]);
    // Partial scoring: each option fills the blank in the context, the rest of the sentence is
    // the shared continuation (harness: " " + sentence[idx+1:].strip()).
    std::string rest = sentence.substr(blank + 1);
    size_t b = rest.find_first_not_of(" \t\n");
    size_t e = rest.find_last_not_of(" \t\n");
    rest = b == std::string::npos ? "" : rest.substr(b, e - b + 1);
    McItem item;
    for (const char* key : {"option1", "option2"})
      item.choices.push_back({sentence.substr(0, blank) + get_string(docs[i], key, path, i + 1), " " + rest});
    item.gold = labels[i] - 1;
    task.items.push_back(std::move(item));
  }
  return task;
}

double choice_length(const std::string& continuation) {
  size_t start = (!continuation.empty() && continuation[0] == ' ') ? 1 : 0;
  double n = 0;
  for (size_t i = start; i < continuation.size(); ++i)
    if ((static_cast<unsigned char>(continuation[i]) & 0xC0) != 0x80) ++n;  // count code points
  return n;
}

}  // namespace binq::eval
