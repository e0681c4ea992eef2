// Unicode helpers for the tokenizers: UTF-8 scanning that tolerates invalid bytes, \p{L} / \p{N} /
// \s classification, GPT-2's byte <-> printable-character map, and hand-written scanners for the
// GPT-2 and Llama-3 pre-tokenizer regexes (std::regex cannot express \p{L}).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace binq::unicode {

struct CodepointRange {
  uint32_t first, last;  // inclusive
};
// Generated tables (unicode_tables.cpp): every code point whose general category is L* / N*.
extern const CodepointRange kLetterRanges[];
extern const size_t kLetterRanges_size;
extern const CodepointRange kNumberRanges[];
extern const size_t kNumberRanges_size;

// A code point that is not a valid UTF-8 sequence start is reported as this value, one byte long.
// It is neither letter, number nor space, so invalid input still tokenizes (as "other").
inline constexpr uint32_t kInvalid = 0xFFFFFFFFu;

// Length in bytes of the UTF-8 sequence at s[i] (1 for an invalid or truncated sequence) and its
// code point (kInvalid then). Overlong forms and surrogates count as invalid.
size_t next_codepoint(std::string_view s, size_t i, uint32_t* cp);

// Length of the character at s[i] the way llama2.c groups bytes: a lead byte plus up to three
// following continuation bytes, whether or not they form valid UTF-8.
size_t llama2c_char_len(std::string_view s, size_t i);

void append_utf8(std::string& out, uint32_t cp);

bool is_letter(uint32_t cp);
bool is_number(uint32_t cp);
bool is_space(uint32_t cp);  // Unicode White_Space, what \s means in Oniguruma / Rust regex

// GPT-2 byte-level alphabet: byte b -> the UTF-8 of a printable code point (identity for
// printable Latin-1, 256+k for the rest), and back.
const std::array<std::string, 256>& byte_to_unicode();
// -1 when the code point is not one of the 256 characters.
int unicode_to_byte(uint32_t cp);

// Pre-tokenizer regexes implemented by hand. Each returns the matches of the pattern in order;
// with these patterns every byte of `text` belongs to exactly one match.
enum class SplitPattern {
  kGpt2,    // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kLlama3,  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  kQwen2,   // the Llama-3 pattern with \p{N} instead of \p{N}{1,3}
};
std::vector<std::string_view> split(std::string_view text, SplitPattern pattern);

// The regex source text of each pattern exactly as it appears in tokenizer.json files.
std::string_view pattern_source(SplitPattern pattern);

}  // namespace binq::unicode
