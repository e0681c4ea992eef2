// Test texts for perplexity, read in place from the shared data folder.
#include <nlohmann/json.hpp>

#include <sstream>

#include "binq/core/error.h"
#include "binq/core/mapped_file.h"
#include "binq/eval/perplexity.h"

namespace binq {

namespace {

std::string join(const std::vector<std::string>& rows, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i) out += sep;
    out += rows[i];
  }
  return out;
}

// Rows as the Hugging Face datasets hold them: wikitext keeps each line's "\n", PTB sentences
// are stripped. GPTQ then joins rows with "\n\n".
std::vector<std::string> split_lines(const std::string& text, bool keep_newline, bool strip) {
  std::vector<std::string> rows;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string::npos ? text.size() : nl + 1;
    std::string line = text.substr(pos, end - pos);
    if (!keep_newline && !line.empty() && line.back() == '\n') line.pop_back();
    if (strip) {
      size_t a = line.find_first_not_of(" \t\r"), b = line.find_last_not_of(" \t\r");
      line = a == std::string::npos ? "" : line.substr(a, b - a + 1);
    }
    rows.push_back(line);
    pos = end;
  }
  return rows;
}

}  // namespace

std::vector<std::string> perplexity_dataset_names() { return {"wikitext2", "ptb", "c4", "tinystories"}; }

std::string load_perplexity_dataset(const std::string& name, const std::string& data_dir) {
  if (name == "wikitext2")
    return join(split_lines(read_text_file(data_dir + "/wikitext-2-raw/wiki.test.raw"), true, false), "\n\n");
  if (name == "ptb")
    return join(split_lines(read_text_file(data_dir + "/ptb/ptb.test.txt"), false, true), "\n\n");
  if (name == "tinystories") return read_text_file(data_dir + "/tinystories/tinystories_val.txt");
  if (name == "c4") {
    const std::string path = data_dir + "/c4/c4_validation_2k.jsonl";
    std::istringstream in(read_text_file(path));
    std::vector<std::string> docs;
    std::string line;
    for (int lineno = 1; std::getline(in, line); ++lineno) {
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("text") || !j["text"].is_string())
        fail("{}:{}: expected a JSON object with a string field \"text\"", path, lineno);
      docs.push_back(j["text"].get<std::string>());
    }
    return join(docs, "\n\n");
  }
  std::string names;
  for (auto& n : perplexity_dataset_names()) names += (names.empty() ? "" : ", ") + n;
  fail("--dataset: unknown dataset '{}' (known: {})", name, names);
}

}  // namespace binq
