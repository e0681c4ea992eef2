// Unicode helpers and the hand-written pre-tokenizer scanners. The expected splits below were
// produced with Python's `regex` module (which, unlike `re`, supports \p{L}) from the exact
// pattern strings; during development the scanners also matched it on all WikiText-2 test lines,
// 3000-byte chunks and 20,000 random strings.
#include <gtest/gtest.h>

#include <set>

#include "binq/tokenizer/unicode.h"

namespace binq::unicode {
namespace {

struct SplitCase {
  SplitPattern pattern;
  std::string text;
  std::vector<std::string> expected;
};

const std::vector<SplitCase> kCases = {
    {SplitPattern::kGpt2, "I'm sure they'RE here, it's 12345 o'clock!",
     {"I", "'m", " sure", " they", "'", "RE", " here", ",", " it", "'s", " 12345", " o", "'", "clock", "!"}},
    {SplitPattern::kGpt2, "  leading   spaces\n\n\tand tabs  ",
     {" ", " leading", "  ", " spaces", "\n\n", "\t", "and", " tabs", "  "}},
    {SplitPattern::kGpt2, "x = y+1;\r\n  return x;\n",
     {"x", " =", " y", "+", "1", ";", "\r\n ", " return", " x", ";", "\n"}},
    {SplitPattern::kGpt2, "\xE4\xB8\xAD\xE6\x96\x87 \xE5\xAD\x97\xE7\xAC\xA6" "123 \xC2\xBD\xC2\xB2",
     {"\xE4\xB8\xAD\xE6\x96\x87", " \xE5\xAD\x97\xE7\xAC\xA6", "123", " \xC2\xBD\xC2\xB2"}},
    {SplitPattern::kGpt2, "x'\xC5\xBF 'll",
     {"x", "'", "\xC5\xBF", " '", "ll"}},
    {SplitPattern::kGpt2, "emoji \xF0\x9F\x98\x80\xF0\x9F\x98\x80 ok",
     {"emoji", " \xF0\x9F\x98\x80\xF0\x9F\x98\x80", " ok"}},
    {SplitPattern::kGpt2, "a\xC2\xA0" "b\xE3\x80\x80" "c",
     {"a", "\xC2\xA0", "b", "\xE3\x80\x80", "c"}},
    {SplitPattern::kLlama3, "I'm sure they'RE here, it's 12345 o'clock!",
     {"I", "'m", " sure", " they", "'RE", " here", ",", " it", "'s", " ", "123", "45", " o", "'clock", "!"}},
    {SplitPattern::kLlama3, "  leading   spaces\n\n\tand tabs  ",
     {" ", " leading", "  ", " spaces", "\n\n", "\tand", " tabs", "  "}},
    {SplitPattern::kLlama3, "x = y+1;\r\n  return x;\n",
     {"x", " =", " y", "+", "1", ";\r\n", " ", " return", " x", ";\n"}},
    {SplitPattern::kLlama3, "\xE4\xB8\xAD\xE6\x96\x87 \xE5\xAD\x97\xE7\xAC\xA6" "123 \xC2\xBD\xC2\xB2",
     {"\xE4\xB8\xAD\xE6\x96\x87", " \xE5\xAD\x97\xE7\xAC\xA6", "123", " ", "\xC2\xBD\xC2\xB2"}},
    {SplitPattern::kLlama3, "x'\xC5\xBF 'll",
     {"x", "'\xC5\xBF", " '", "ll"}},
    {SplitPattern::kLlama3, "emoji \xF0\x9F\x98\x80\xF0\x9F\x98\x80 ok",
     {"emoji", " \xF0\x9F\x98\x80\xF0\x9F\x98\x80", " ok"}},
    {SplitPattern::kLlama3, "a\xC2\xA0" "b\xE3\x80\x80" "c",
     {"a", "\xC2\xA0" "b", "\xE3\x80\x80" "c"}},
    {SplitPattern::kQwen2, "I'm sure they'RE here, it's 12345 o'clock!",
     {"I", "'m", " sure", " they", "'RE", " here", ",", " it", "'s", " ", "1", "2", "3", "4", "5", " o", "'clock", "!"}},
    {SplitPattern::kQwen2, "  leading   spaces\n\n\tand tabs  ",
     {" ", " leading", "  ", " spaces", "\n\n", "\tand", " tabs", "  "}},
    {SplitPattern::kQwen2, "x = y+1;\r\n  return x;\n",
     {"x", " =", " y", "+", "1", ";\r\n", " ", " return", " x", ";\n"}},
    {SplitPattern::kQwen2, "\xE4\xB8\xAD\xE6\x96\x87 \xE5\xAD\x97\xE7\xAC\xA6" "123 \xC2\xBD\xC2\xB2",
     {"\xE4\xB8\xAD\xE6\x96\x87", " \xE5\xAD\x97\xE7\xAC\xA6", "1", "2", "3", " ", "\xC2\xBD", "\xC2\xB2"}},
    {SplitPattern::kQwen2, "x'\xC5\xBF 'll",
     {"x", "'\xC5\xBF", " '", "ll"}},
    {SplitPattern::kQwen2, "emoji \xF0\x9F\x98\x80\xF0\x9F\x98\x80 ok",
     {"emoji", " \xF0\x9F\x98\x80\xF0\x9F\x98\x80", " ok"}},
    {SplitPattern::kQwen2, "a\xC2\xA0" "b\xE3\x80\x80" "c",
     {"a", "\xC2\xA0" "b", "\xE3\x80\x80" "c"}},
};

TEST(Unicode, SplitMatchesRegexModule) {
  for (const SplitCase& c : kCases) {
    std::vector<std::string> got;
    for (std::string_view v : split(c.text, c.pattern)) got.emplace_back(v);
    EXPECT_EQ(got, c.expected) << pattern_source(c.pattern) << " on \"" << c.text << "\"";
  }
}

TEST(Unicode, SplitCoversInvalidBytes) {
  std::string text = "ok \xFF\xFE bad \xE4\xB8 end";
  for (SplitPattern p : {SplitPattern::kGpt2, SplitPattern::kLlama3, SplitPattern::kQwen2}) {
    std::string joined;
    for (std::string_view v : split(text, p)) {
      EXPECT_FALSE(v.empty());
      joined += v;
    }
    EXPECT_EQ(joined, text);
  }
  EXPECT_TRUE(split("", SplitPattern::kLlama3).empty());
}

TEST(Unicode, Classification) {
  for (uint32_t cp : std::initializer_list<uint32_t>{'a', 'Z', 0xC9u, 0xDFu, 0x3A9u, 0x416u, 0x639u, 0x4E2Du, 0x3042u, 0xD55Cu, 0x17Fu})
    EXPECT_TRUE(is_letter(cp)) << std::hex << cp;
  for (uint32_t cp : std::initializer_list<uint32_t>{'0', '9', 0x663u, 0xB2u, 0xBDu, 0x216Bu})  // Arabic-Indic 3, ², ½, Ⅻ
    EXPECT_TRUE(is_number(cp)) << std::hex << cp;
  for (uint32_t cp : std::initializer_list<uint32_t>{'!', ' ', '\'', 0x1F600u, 0x301u, 0x2581u, kInvalid}) {  // 0x301: combining mark
    EXPECT_FALSE(is_letter(cp)) << std::hex << cp;
    EXPECT_FALSE(is_number(cp)) << std::hex << cp;
  }
  for (uint32_t cp : std::initializer_list<uint32_t>{' ', '\t', '\n', '\r', 0xA0u, 0x3000u, 0x2028u}) EXPECT_TRUE(is_space(cp));
  for (uint32_t cp : std::initializer_list<uint32_t>{'a', 0x200Bu, 0x2581u}) EXPECT_FALSE(is_space(cp));  // ZWSP is not White_Space
}

TEST(Unicode, Utf8Decoding) {
  uint32_t cp;
  EXPECT_EQ(next_codepoint("\xE4\xB8\xAD", 0, &cp), 3u);
  EXPECT_EQ(cp, 0x4E2Du);
  EXPECT_EQ(next_codepoint("\xF0\x9F\x98\x80", 0, &cp), 4u);
  EXPECT_EQ(cp, 0x1F600u);
  for (std::string bad : {"\xE4\xB8", "\xC0\xAF", "\xED\xA0\x80", "\x80", "\xF4\x90\x80\x80"}) {
    EXPECT_EQ(next_codepoint(bad, 0, &cp), 1u);
    EXPECT_EQ(cp, kInvalid);
  }
  EXPECT_EQ(llama2c_char_len("\xE4\xB8\xAD", 0), 3u);
  EXPECT_EQ(llama2c_char_len("\xE4\x80\x80\x80\x80", 0), 4u);  // llama2.c stops at 4 bytes
}

TEST(Unicode, Gpt2ByteAlphabet) {
  const auto& map = byte_to_unicode();
  std::set<std::string> distinct(map.begin(), map.end());
  EXPECT_EQ(distinct.size(), 256u);
  // Well-known GPT-2 vocabulary spellings: space is "Ġ" (U+0120), newline "Ċ" (U+010A).
  EXPECT_EQ(map[' '], "\xC4\xA0");
  EXPECT_EQ(map['\n'], "\xC4\x8A");
  EXPECT_EQ(map['A'], "A");
  for (int b = 0; b < 256; ++b) {
    uint32_t cp;
    next_codepoint(map[b], 0, &cp);
    EXPECT_EQ(unicode_to_byte(cp), b);
  }
  EXPECT_EQ(unicode_to_byte(0x4E2D), -1);
}

}  // namespace
}  // namespace binq::unicode
