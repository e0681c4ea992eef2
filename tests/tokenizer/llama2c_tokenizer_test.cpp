// llama2.c tokenizer.bin: checked against an independent, literal O(n^2) transcription of
// llama2.c's encode() (own file reader, linear rescans), and against libsentencepiece on the
// Llama-2 vocabulary, which the llama2.c file was exported from.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <random>

#include "binq/core/error.h"
#include "binq/tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"

namespace binq {
namespace {

struct RawVocab {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::map<std::string, int> lookup;  // piece -> lowest id
};

RawVocab read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  RawVocab v;
  int32_t max_len = 0, len = 0;
  float score = 0;
  in.read(reinterpret_cast<char*>(&max_len), 4);
  while (in.read(reinterpret_cast<char*>(&score), 4) && in.read(reinterpret_cast<char*>(&len), 4)) {
    std::string s(static_cast<size_t>(len), '\0');
    in.read(s.data(), len);
    v.pieces.push_back(s);
    v.scores.push_back(score);
  }
  for (int i = static_cast<int>(v.pieces.size()) - 1; i >= 0; --i) v.lookup[v.pieces[i]] = i;
  return v;
}

// llama2.c's encode(), restated: per-character lookup with byte fallback, then repeated full
// scans for the best-scoring mergeable pair (first one on ties).
std::vector<int> reference_encode(const RawVocab& v, const std::string& text) {
  auto find = [&](const std::string& s) {
    auto it = v.lookup.find(s);
    return it == v.lookup.end() ? -1 : it->second;
  };
  std::vector<int> t;
  if (!text.empty()) t.push_back(find(" "));
  for (size_t i = 0; i < text.size();) {
    size_t n = 1;
    while (i + n < text.size() && n < 4 && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) ++n;
    int id = find(text.substr(i, n));
    if (id >= 0) {
      t.push_back(id);
    } else {
      for (size_t k = 0; k < n; ++k) t.push_back(static_cast<unsigned char>(text[i + k]) + 3);
    }
    i += n;
  }
  while (true) {
    float best = -1e10f;
    int best_id = -1, best_at = -1;
    for (size_t i = 0; i + 1 < t.size(); ++i) {
      int id = find(v.pieces[t[i]] + v.pieces[t[i + 1]]);
      if (id >= 0 && v.scores[id] > best) best = v.scores[id], best_id = id, best_at = static_cast<int>(i);
    }
    if (best_at < 0) break;
    t[best_at] = best_id;
    t.erase(t.begin() + best_at + 1);
  }
  return t;
}

std::string random_text(std::mt19937& rng) {
  static const std::vector<std::string> alphabet = {
      "a", "b", "e", "t", "h", "o", " ", " ", "  ", "\n", ".", ",", "'", "the", "The", "ing", "Lily",
      "\xE4\xB8\xAD", "\xF0\x9F\x98\x80", "\xC3\xA9", "1", "23", "\t", "\xFF", "\xE4\xB8", "<s>", "<0x41>"};
  std::string s;
  for (int n = std::uniform_int_distribution<int>(0, 40)(rng); n > 0; --n) s += alphabet[rng() % alphabet.size()];
  return s;
}

TEST(Llama2cTokenizer, LoadsStories260K) {
  auto tok = load_tokenizer(test::stories_tokenizer(), 512);
  EXPECT_EQ(tok->vocab_size(), 512);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_NE(tok->describe().find("llama2.c"), std::string::npos);
}

TEST(Llama2cTokenizer, MatchesReferenceEncode) {
  std::mt19937 rng(7);
  for (const std::string& path : {test::stories_tokenizer(), test::llama2_bin()}) {
    RawVocab v = read_raw(path);
    auto tok = load_tokenizer(path);
    ASSERT_EQ(tok->vocab_size(), static_cast<int>(v.pieces.size()));
    std::vector<std::string> texts = test::roundtrip_samples();
    for (auto& s : test::invalid_utf8_samples()) texts.push_back(s);
    for (int i = 0; i < 300; ++i) texts.push_back(random_text(rng));
    for (const std::string& t : texts) {
      std::vector<int> expected = reference_encode(v, t);
      EXPECT_EQ(tok->encode(t, false), expected) << path << ": \"" << t << "\"";
      expected.insert(expected.begin(), 1);
      expected.push_back(2);
      EXPECT_EQ(tok->encode(t, true, true), expected);
    }
  }
}

TEST(Llama2cTokenizer, RoundTrips) {
  for (const std::string& path : {test::stories_tokenizer(), test::llama2_bin()}) {
    auto tok = load_tokenizer(path);
    for (const std::string& s : test::roundtrip_samples()) {
      std::vector<int> ids = tok->encode(s, true, true);
      EXPECT_EQ(tok->decode(ids), s) << path;
      std::string streamed;
      for (size_t i = 1; i < ids.size(); ++i) streamed += tok->decode_token(ids[i - 1], ids[i]);
      EXPECT_EQ(streamed, s) << path;
    }
    // Invalid UTF-8 becomes byte tokens and comes back byte for byte.
    for (const std::string& s : test::invalid_utf8_samples()) EXPECT_EQ(tok->decode(tok->encode(s, false)), s);
    EXPECT_TRUE(tok->encode("", false).empty());
    EXPECT_THROW(tok->decode({tok->vocab_size()}), Error);
    EXPECT_THROW(tok->decode_token(1, -1), Error);
  }
}

// The llama2.c export of Llama-2 and SentencePiece itself must agree on ordinary text.
TEST(Llama2cTokenizer, AgreesWithSentencePieceOnLlama2) {
  auto bin = load_tokenizer(test::llama2_bin(), 32000);
  const auto& sp = test::llama2_sp();
  std::vector<std::string> texts = test::roundtrip_samples();
  for (auto& line : test::wiki_test_lines()) texts.push_back(line);
  // Spelled-out control / byte pieces could in principle merge into those pieces in llama2.c (its
  // vocabulary has no types), but the Llama-2 merges never reach them.
  for (const char* t : {"<unk>", "<s>", "</s>", "a<unk>b", "x <0x0A> y", "<0x41>"}) texts.push_back(t);
  int bad = 0;
  for (const std::string& t : texts) {
    std::vector<int> expected;
    ASSERT_TRUE(sp.Encode(t, &expected).ok());
    if (bin->encode(t, false) != expected && ++bad <= 5) ADD_FAILURE() << "differs on \"" << t << "\"";
  }
  std::cout << texts.size() << " texts, llama2.c vs SentencePiece mismatches: " << bad << "\n";
  EXPECT_EQ(bad, 0);
}

// Known, documented exceptions: llama2.c's vocabulary stores "▁" as ' ' and keeps control and
// byte pieces as plain strings, so text spelling them is tokenized differently.
TEST(Llama2cTokenizer, KnownDifferencesFromSentencePiece) {
  auto bin = load_tokenizer(test::llama2_bin(), 32000);
  const auto& sp = test::llama2_sp();
  std::vector<int> sp_ids;
  // A literal U+2581 is an ordinary space to SentencePiece but unknown (bytes) to llama2.c.
  ASSERT_TRUE(sp.Encode("a\xE2\x96\x81" "b", &sp_ids).ok());
  EXPECT_NE(bin->encode("a\xE2\x96\x81" "b", false), sp_ids);
  EXPECT_EQ(bin->decode(bin->encode("a\xE2\x96\x81" "b", false)), "a\xE2\x96\x81" "b");
}

TEST(Llama2cTokenizer, DecodeTokenRules) {
  auto tok = load_tokenizer(test::llama2_bin());
  std::vector<int> ids = tok->encode("Hello", false);
  ASSERT_EQ(ids.size(), 1u);  // "▁Hello" is one Llama-2 token
  EXPECT_EQ(tok->decode_token(1, ids[0]), "Hello");   // after BOS: dummy space dropped
  EXPECT_EQ(tok->decode_token(ids[0], ids[0]), " Hello");
  EXPECT_EQ(tok->decode_token(ids[0], 13), "\n");     // <0x0A>
  EXPECT_EQ(tok->decode_token(ids[0], 1), "");        // BOS itself prints nothing
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(Llama2cTokenizer, MalformedFilesFailCleanly) {
  std::string dir = test::temp_dir("llama2c-bad");
  std::string good = file_bytes(test::stories_tokenizer());
  auto load = [&](const std::string& bytes, int vocab = 0) {
    std::string p = dir + "/tokenizer.bin";
    test::write_bytes(p, bytes);
    return load_tokenizer(p, vocab);
  };
  EXPECT_NO_THROW(load(good, 512));
  EXPECT_THROW(load(good, 511), Error);                 // vocab_size mismatch
  EXPECT_THROW(load(""), Error);                        // empty
  EXPECT_THROW(load(good.substr(0, 2)), Error);         // truncated header
  EXPECT_THROW(load(good.substr(0, 4)), Error);         // header only: no tokens
  for (size_t cut : {size_t{5}, size_t{9}, size_t{14}, good.size() - 1, good.size() - 3})
    EXPECT_THROW(load(good.substr(0, cut)), Error) << "cut at " << cut;
  std::string neg = good;
  int32_t minus = -5;
  std::memcpy(&neg[8], &minus, 4);  // first token's length
  EXPECT_THROW(load(neg), Error);
  std::string huge = good;
  int32_t big = 1 << 30;
  std::memcpy(&huge[8], &big, 4);
  EXPECT_THROW(load(huge), Error);
  EXPECT_THROW(load_tokenizer(dir + "/missing.bin"), Error);
}

}  // namespace
}  // namespace binq
