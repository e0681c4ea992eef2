// Byte-level BPE tokenizer.json (GPT-2 / Llama-3 style). No real byte-level tokenizer exists on
// these machines, so the test trains a small merge list on WikiText and checks the implementation
// against a plain reference: the pre-tokenizer split (itself checked against Python's regex
// module in unicode_test), GPT-2's byte alphabet, and a quadratic "lowest-rank pair, leftmost
// first" merge loop written independently of the heap-based one in the library.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "binq/core/error.h"
#include "binq/tokenizer/tokenizer.h"
#include "binq/tokenizer/unicode.h"
#include "tokenizer/tokenizer_test_util.h"

namespace binq {
namespace {

using json = nlohmann::json;
using unicode::SplitPattern;

std::vector<std::string> chars_of(const std::string& w) {
  std::vector<std::string> out;
  for (size_t i = 0; i < w.size();) {
    uint32_t cp;
    size_t n = unicode::next_codepoint(w, i, &cp);
    out.push_back(w.substr(i, n));
    i += n;
  }
  return out;
}

std::string to_alphabet(std::string_view bytes) {
  std::string s;
  for (unsigned char c : bytes) s += unicode::byte_to_unicode()[c];
  return s;
}

struct Model {
  std::vector<std::string> tokens;  // id -> token
  std::map<std::string, int> ids;
  std::vector<std::pair<std::string, std::string>> merges;
  std::map<std::pair<std::string, std::string>, int> rank;

  void add(const std::string& t) {
    if (ids.emplace(t, static_cast<int>(tokens.size())).second) tokens.push_back(t);
  }
};

// Greedy BPE training: most frequent adjacent pair first (ties: smallest pair), like GPT-2's.
Model train(const std::string& corpus, int n_merges) {
  Model m;
  for (int b = 0; b < 256; ++b) m.add(unicode::byte_to_unicode()[b]);
  std::map<std::vector<std::string>, int> words;
  for (std::string_view w : unicode::split(corpus, SplitPattern::kLlama3)) ++words[chars_of(to_alphabet(w))];
  std::vector<std::pair<std::vector<std::string>, int>> segs(words.begin(), words.end());
  for (int k = 0; k < n_merges; ++k) {
    std::map<std::pair<std::string, std::string>, int> counts;
    for (auto& [s, n] : segs)
      for (size_t i = 0; i + 1 < s.size(); ++i) counts[{s[i], s[i + 1]}] += n;
    if (counts.empty()) break;
    auto best = counts.begin();
    for (auto it = counts.begin(); it != counts.end(); ++it)
      if (it->second > best->second) best = it;
    auto [a, b] = best->first;
    m.rank[{a, b}] = static_cast<int>(m.merges.size());
    m.merges.push_back({a, b});
    m.add(a + b);
    for (auto& [s, n] : segs) {
      std::vector<std::string> t;
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) t.push_back(a + b), ++i;
        else t.push_back(s[i]);
      }
      s = std::move(t);
    }
  }
  return m;
}

std::vector<int> reference_encode(const Model& m, std::string_view text, SplitPattern p, bool ignore_merges) {
  std::vector<int> out;
  for (std::string_view piece : unicode::split(text, p)) {
    std::string w = to_alphabet(piece);
    if (ignore_merges && m.ids.count(w)) {
      out.push_back(m.ids.at(w));
      continue;
    }
    std::vector<std::string> s = chars_of(w);
    while (true) {
      int best = INT32_MAX, at = -1;
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        auto it = m.rank.find({s[i], s[i + 1]});
        if (it != m.rank.end() && it->second < best) best = it->second, at = static_cast<int>(i);
      }
      if (at < 0) break;
      s[at] += s[at + 1];
      s.erase(s.begin() + at + 1);
    }
    for (auto& t : s) out.push_back(m.ids.at(t));
  }
  return out;
}

json added_token(int id, const std::string& content) {
  return {{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", true}};
}

// GPT-2 style (ByteLevel pre-tokenizer with its built-in regex, "a b" merges) or Llama-3 style
// (Split with the Llama-3 regex, then ByteLevel without regex, ignore_merges, pair merges).
std::string make_json(const Model& m, bool llama3) {
  json vocab = json::object();
  for (size_t i = 0; i < m.tokens.size(); ++i) vocab[m.tokens[i]] = i;
  json merges = json::array();
  for (auto& [a, b] : m.merges) {
    if (llama3) merges.push_back({a, b});
    else merges.push_back(a + " " + b);
  }
  int n = static_cast<int>(m.tokens.size());
  json root;
  json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", !llama3}};
  if (llama3) {
    root["added_tokens"] = {added_token(n, "<|begin_of_text|>"), added_token(n + 1, "<|end_of_text|>"),
                            added_token(n + 2, "<|reserved_special_token_0|>")};
    json split = {{"type", "Split"},
                  {"pattern", {{"Regex", std::string(unicode::pattern_source(SplitPattern::kLlama3))}}},
                  {"behavior", "Isolated"}, {"invert", false}};
    root["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {split, byte_level}}};
  } else {
    root["added_tokens"] = {added_token(n, "<|endoftext|>")};
    root["pre_tokenizer"] = byte_level;
  }
  root["normalizer"] = nullptr;
  root["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  root["model"] = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
                   {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
                   {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", llama3},
                   {"vocab", vocab}, {"merges", merges}};
  return root.dump();
}

struct Fixture {
  Model model;
  std::unique_ptr<Tokenizer> gpt2, llama3;
};

const Fixture& fixture() {
  static Fixture f = [] {
    Fixture f;
    f.model = train(test::wiki_test_text().substr(0, 60000), 400);
    // A token no merge sequence builds: only ignore_merges (Llama-3) can emit it.
    f.model.add(to_alphabet(" zzqx"));
    std::string dir = test::temp_dir("hf-bytelevel");
    test::write_bytes(dir + "/gpt2.json", make_json(f.model, false));
    test::write_bytes(dir + "/llama3.json", make_json(f.model, true));
    f.gpt2 = load_tokenizer(dir + "/gpt2.json");
    f.llama3 = load_tokenizer(dir + "/llama3.json");
    return f;
  }();
  return f;
}

std::vector<std::string> texts() {
  std::vector<std::string> t = test::wiki_test_lines();
  t.resize(1500);
  for (auto& s : test::roundtrip_samples()) t.push_back(s);
  for (auto& s : test::invalid_utf8_samples()) t.push_back(s);
  return t;
}

TEST(HfByteLevel, DetectsFlavorAndSpecialTokens) {
  const Fixture& f = fixture();
  EXPECT_NE(f.gpt2->describe().find("byte-level"), std::string::npos) << f.gpt2->describe();
  int n = static_cast<int>(f.model.tokens.size());
  EXPECT_EQ(f.gpt2->vocab_size(), n + 1);
  EXPECT_EQ(f.gpt2->bos_id(), n);  // <|endoftext|> serves as both
  EXPECT_EQ(f.gpt2->eos_id(), n);
  EXPECT_EQ(f.llama3->vocab_size(), n + 3);
  EXPECT_EQ(f.llama3->bos_id(), n);
  EXPECT_EQ(f.llama3->eos_id(), n + 1);
}

TEST(HfByteLevel, MatchesReferenceGpt2) {
  const Fixture& f = fixture();
  for (const std::string& t : texts())
    ASSERT_EQ(f.gpt2->encode(t, false), reference_encode(f.model, t, SplitPattern::kGpt2, false)) << t;
}

TEST(HfByteLevel, MatchesReferenceLlama3) {
  const Fixture& f = fixture();
  for (const std::string& t : texts())
    ASSERT_EQ(f.llama3->encode(t, false), reference_encode(f.model, t, SplitPattern::kLlama3, true)) << t;
}

TEST(HfByteLevel, IgnoreMergesEmitsWholeWords) {
  const Fixture& f = fixture();
  int zz = f.model.ids.at(to_alphabet(" zzqx"));
  EXPECT_EQ(f.llama3->encode("a zzqx", false).back(), zz);
  std::vector<int> g = f.gpt2->encode("a zzqx", false);
  EXPECT_GT(g.size(), 2u);
  EXPECT_EQ(f.gpt2->decode(g), "a zzqx");
}

TEST(HfByteLevel, RoundTripsEverything) {
  const Fixture& f = fixture();
  for (const Tokenizer* tok : {f.gpt2.get(), f.llama3.get()}) {
    for (const std::string& t : texts()) {
      std::vector<int> ids = tok->encode(t, true, true);
      ASSERT_EQ(tok->decode(ids), t);  // byte-level: even invalid UTF-8 is exact
      std::string streamed;
      for (size_t i = 1; i < ids.size(); ++i) streamed += tok->decode_token(ids[i - 1], ids[i]);
      ASSERT_EQ(streamed, t);
    }
  }
}

TEST(HfByteLevel, AddedTokensAreSplitOut) {
  const Fixture& f = fixture();
  const Tokenizer& tok = *f.llama3;
  std::vector<int> ids = tok.encode("<|begin_of_text|>Hello world<|end_of_text|>", false);
  std::vector<int> expected = {tok.bos_id()};
  for (int id : reference_encode(f.model, "Hello world", SplitPattern::kLlama3, true)) expected.push_back(id);
  expected.push_back(tok.eos_id());
  EXPECT_EQ(ids, expected);
  EXPECT_EQ(tok.decode(ids), "Hello world");
  // A prefix of a special token is ordinary text.
  EXPECT_EQ(tok.decode(tok.encode("<|begin_of", false)), "<|begin_of");
}

}  // namespace
}  // namespace binq
