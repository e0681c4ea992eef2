// Fixtures shared by the tokenizer tests: sample strings, WikiText lines, and a converter that
// writes a Llama-2 style tokenizer.json from a SentencePiece model (the way Hugging Face's
// LlamaConverter does), so the HF implementation can be checked against libsentencepiece.
#pragma once
#include <sentencepiece_processor.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "binq/tokenizer/unicode.h"
#include "common/test_util.h"

namespace binq::test {

// Valid UTF-8 text that every tokenizer must round-trip exactly (encode -> decode == text).
inline std::vector<std::string> roundtrip_samples() {
  return {
      "Hello world",
      "Hello",
      " ",
      "   ",
      "  leading and trailing  ",
      "multiple   spaces\tand\t\ttabs",
      "line1\nline2\n\nline4\r\nend\n",
      "\n\nstarts with newlines",
      "emoji \xF0\x9F\x98\x80\xF0\x9F\x8E\x89 and a family \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",
      "\xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97\xE7\xAC\xA6 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE"
      "\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88",  // Chinese, Japanese
      "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4 \xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 "
      "\xCE\xB1\xCE\xB2\xCE\xB3 \xD8\xB3\xD9\x84\xD8\xA7\xD9\x85",  // Korean, Russian, Greek, Arabic
      "\xC3\x9Cn\xC3\xAF" "c\xC3\xB6" "d\xC3\xA9 \xC3\xA0" "ccents, combining e\xCC\x81",
      "numbers 1234567890 and 3.14159, 1,000,000",
      "code: for (int i = 0; i < n; ++i) { x += y[i]; }",
      "it's they're we've I'm you'll he'd IT'S",
      "Once upon a time, there was a little girl named Lily.",
      "\x01\x02 control bytes \x7F",
  };
}

// Invalid UTF-8: must encode without crashing; decode must not crash either.
inline std::vector<std::string> invalid_utf8_samples() {
  return {
      "\xFF\xFE bad bytes",
      "truncated \xE4\xB8",
      "\xC0\xAF overlong",
      "\xED\xA0\x80 surrogate",
      "\x80\x80\x80 lone continuations",
      std::string("embedded\0nul", 12),
      "\xF4\x90\x80\x80 beyond U+10FFFF",
  };
}

inline std::string llama2_model() { return shared("models/llama2-tokenizer/tokenizer.model"); }
inline std::string llama2_bin() { return shared("models/llama2-tokenizer/tokenizer.bin"); }

inline std::string wiki_test_text() {
  std::ifstream in(shared("data/wikitext-2-raw/wiki.test.raw"), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Non-empty lines of WikiText-2 test, without their trailing newline.
inline std::vector<std::string> wiki_test_lines() {
  std::vector<std::string> lines;
  std::istringstream in(wiki_test_text());
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

struct HfJsonOptions {
  bool merges_as_pairs = false;  // tokenizers >= 0.20 writes ["a", "b"] instead of "a b"
  bool metaspace = false;        // Metaspace pre-tokenizer (prepend_scheme first) instead of the
                                 // Prepend + Replace normalizers
};

// tokenizer.json for a SentencePiece BPE model, built like HF's LlamaConverter:
//  * vocab: every piece with its id; <unk>, <s>, </s> (control / unknown) also as added tokens;
//  * merges: for every normal piece p and every split p = a + b at a code point boundary with a
//    and b in the vocabulary, the merge (a, b); merges sorted by score(p) descending (stable),
//    which leaves ties in vocabulary order (by id of p, then ids of a and b);
//  * BPE with byte_fallback and fuse_unk; Llama-2's normalizer and decoder.
inline std::string sp_to_hf_json(const sentencepiece::SentencePieceProcessor& sp, const HfJsonOptions& opt = {}) {
  using json = nlohmann::ordered_json;
  const std::string meta = "\xE2\x96\x81";
  json vocab = json::object();
  std::unordered_map<std::string, int> ids;
  for (int i = 0; i < sp.GetPieceSize(); ++i) {
    vocab[sp.IdToPiece(i)] = i;
    ids.emplace(sp.IdToPiece(i), i);
  }
  struct Merge {
    float score;
    int a, b;
  };
  std::vector<Merge> merges;
  for (int p = 0; p < sp.GetPieceSize(); ++p) {
    if (sp.IsControl(p) || sp.IsUnknown(p) || sp.IsByte(p) || sp.IsUnused(p)) continue;
    const std::string& s = sp.IdToPiece(p);
    std::vector<Merge> local;
    for (size_t k = 0; k < s.size();) {
      uint32_t cp;
      k += unicode::next_codepoint(s, k, &cp);
      if (k >= s.size()) break;
      auto a = ids.find(s.substr(0, k)), b = ids.find(s.substr(k));
      if (a != ids.end() && b != ids.end()) local.push_back({sp.GetScore(p), a->second, b->second});
    }
    std::sort(local.begin(), local.end(),
              [](const Merge& x, const Merge& y) { return std::pair(x.a, x.b) < std::pair(y.a, y.b); });
    merges.insert(merges.end(), local.begin(), local.end());
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& x, const Merge& y) { return x.score > y.score; });
  json jm = json::array();
  for (const Merge& m : merges) {
    if (opt.merges_as_pairs) jm.push_back({sp.IdToPiece(m.a), sp.IdToPiece(m.b)});
    else jm.push_back(sp.IdToPiece(m.a) + " " + sp.IdToPiece(m.b));
  }
  json added = json::array();
  for (int i = 0; i < sp.GetPieceSize(); ++i)
    if (sp.IsControl(i) || sp.IsUnknown(i))
      added.push_back({{"id", i}, {"content", sp.IdToPiece(i)}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", false}, {"special", true}});
  json root = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added}};
  if (opt.metaspace) {
    root["normalizer"] = nullptr;
    root["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", meta}, {"prepend_scheme", "first"}, {"split", false}};
    root["decoder"] = {{"type", "Sequence"},
                       {"decoders", {{{"type", "ByteFallback"}},
                                     {{"type", "Metaspace"}, {"replacement", meta}, {"prepend_scheme", "first"}, {"split", false}}}}};
  } else {
    root["normalizer"] = {{"type", "Sequence"},
                          {"normalizers", {{{"type", "Prepend"}, {"prepend", meta}},
                                           {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", meta}}}}};
    root["pre_tokenizer"] = nullptr;
    root["decoder"] = {{"type", "Sequence"},
                       {"decoders", {{{"type", "Replace"}, {"pattern", {{"String", meta}}}, {"content", " "}},
                                     {{"type", "ByteFallback"}},
                                     {{"type", "Fuse"}},
                                     {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  }
  root["model"] = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"},
                   {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
                   {"fuse_unk", true}, {"byte_fallback", true}, {"ignore_merges", false},
                   {"vocab", vocab}, {"merges", jm}};
  return root.dump();
}

// Loads libsentencepiece's processor for the Llama-2 model (fails the test if it cannot).
inline const sentencepiece::SentencePieceProcessor& llama2_sp() {
  static sentencepiece::SentencePieceProcessor sp;
  static bool loaded = sp.Load(llama2_model()).ok();
  if (!loaded) throw std::runtime_error("cannot load " + llama2_model());
  return sp;
}

}  // namespace binq::test
