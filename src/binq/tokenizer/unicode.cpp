#include "binq/tokenizer/unicode.h"

#include <algorithm>

namespace binq::unicode {

size_t next_codepoint(std::string_view s, size_t i, uint32_t* cp) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = b(i);
  size_t len;
  uint32_t v, min;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2, v = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, v = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, v = c & 0x07, min = 0x10000;
  } else {
    *cp = kInvalid;
    return 1;
  }
  if (i + len > s.size()) {
    *cp = kInvalid;
    return 1;
  }
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) {
      *cp = kInvalid;
      return 1;
    }
    v = (v << 6) | (b(i + k) & 0x3F);
  }
  // Overlong encodings, surrogates and values past U+10FFFF are not text; treating their lead
  // byte as a lone invalid byte keeps every input tokenizable and round-trippable.
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
    *cp = kInvalid;
    return 1;
  }
  *cp = v;
  return len;
}

size_t llama2c_char_len(std::string_view s, size_t i) {
  size_t len = 1;
  while (i + len < s.size() && len < 4 && (static_cast<uint8_t>(s[i + len]) & 0xC0) == 0x80) ++len;
  return len;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

namespace {

bool in_ranges(uint32_t cp, const CodepointRange* r, size_t n) {
  const CodepointRange* end = r + n;
  auto it = std::upper_bound(r, end, cp, [](uint32_t v, const CodepointRange& x) { return v < x.first; });
  return it != r && cp <= (it - 1)->last;
}

}  // namespace

bool is_letter(uint32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return cp != kInvalid && in_ranges(cp, kLetterRanges, kLetterRanges_size);
}

bool is_number(uint32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return cp != kInvalid && in_ranges(cp, kNumberRanges, kNumberRanges_size);
}

bool is_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

const std::array<std::string, 256>& byte_to_unicode() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      append_utf8(t[b], printable ? static_cast<uint32_t>(b) : next++);
    }
    return t;
  }();
  return table;
}

int unicode_to_byte(uint32_t cp) {
  if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
    return static_cast<int>(cp);
  // The non-printable bytes were numbered 256.. in byte order; invert that numbering.
  static const std::array<int, 68> rest = [] {
    std::array<int, 68> r{};
    int k = 0;
    for (int b = 0; b < 256; ++b)
      if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE))) r[k++] = b;
    return r;
  }();
  if (cp >= 256 && cp < 256 + rest.size()) return rest[cp - 256];
  return -1;
}

namespace {

enum class Cls : uint8_t { kLetter, kNumber, kNewline, kSpace, kOther };

struct Char {
  size_t offset, len;
  uint32_t cp;
  Cls cls;
};

std::vector<Char> classify(std::string_view text) {
  std::vector<Char> chars;
  chars.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    uint32_t cp;
    size_t len = next_codepoint(text, i, &cp);
    Cls cls = cp == '\r' || cp == '\n' ? Cls::kNewline
              : is_space(cp)           ? Cls::kSpace
              : is_letter(cp)          ? Cls::kLetter
              : is_number(cp)          ? Cls::kNumber
                                       : Cls::kOther;
    chars.push_back({i, len, cp, cls});
    i += len;
  }
  return chars;
}

class Scanner {
 public:
  Scanner(std::string_view text, SplitPattern p) : text_(text), pattern_(p), c_(classify(text)) {}

  std::vector<std::string_view> run() {
    std::vector<std::string_view> out;
    size_t n = c_.size();
    for (size_t i = 0; i < n;) {
      size_t j = pattern_ == SplitPattern::kGpt2 ? match_gpt2(i) : match_llama3(i);
      if (j <= i) j = i + 1;  // unreachable with these patterns; guarantees progress anyway
      size_t begin = c_[i].offset, end = j < n ? c_[j].offset : text_.size();
      out.push_back(text_.substr(begin, end - begin));
      i = j;
    }
    return out;
  }

 private:
  bool is(size_t i, Cls cls) const { return i < c_.size() && c_[i].cls == cls; }
  bool ws(size_t i) const { return is(i, Cls::kSpace) || is(i, Cls::kNewline); }
  bool cp_is(size_t i, uint32_t cp) const { return i < c_.size() && c_[i].cp == cp; }
  size_t run_of(size_t i, Cls cls, size_t max = SIZE_MAX) const {
    size_t j = i;
    while (j - i < max && is(j, cls)) ++j;
    return j;
  }
  size_t ws_run(size_t i) const {
    size_t j = i;
    while (ws(j)) ++j;
    return j;
  }

  // 's|'t|'re|'ve|'m|'ll|'d; with `fold`, case-insensitive the way Unicode simple case folding
  // does it (which also lets U+017F LATIN SMALL LETTER LONG S match 's'). Returns end or 0.
  size_t contraction(size_t i, bool fold) const {
    if (!cp_is(i, '\'')) return 0;
    auto letter = [&](size_t k, char want) {
      if (k >= c_.size()) return false;
      uint32_t cp = c_[k].cp;
      if (cp == static_cast<uint32_t>(want)) return true;
      if (!fold) return false;
      if (cp == static_cast<uint32_t>(want - 'a' + 'A')) return true;
      return want == 's' && cp == 0x17F;
    };
    static constexpr std::string_view kSuffixes[] = {"s", "t", "re", "ve", "m", "ll", "d"};
    for (std::string_view suf : kSuffixes) {
      bool ok = true;
      for (size_t k = 0; k < suf.size() && ok; ++k) ok = letter(i + 1 + k, suf[k]);
      if (ok) return i + 1 + suf.size();
    }
    return 0;
  }

  // \s+(?!\S)|\s+ : a whitespace run, leaving its last character to the next token when a
  // non-space follows (so " word" keeps its space).
  size_t trailing_ws(size_t i) const {
    size_t j = ws_run(i);
    if (j == c_.size() || j - i == 1) return j;
    return j - 1;
  }

  size_t match_gpt2(size_t i) const {
    if (size_t j = contraction(i, false)) return j;
    size_t k = cp_is(i, ' ') ? i + 1 : i;  // " ?" then a class run
    for (Cls cls : {Cls::kLetter, Cls::kNumber, Cls::kOther})
      if (is(k, cls)) return run_of(k, cls);
    return trailing_ws(i);
  }

  size_t match_llama3(size_t i) const {
    if (size_t j = contraction(i, true)) return j;
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if ((is(i, Cls::kSpace) || is(i, Cls::kOther)) && is(i + 1, Cls::kLetter)) return run_of(i + 1, Cls::kLetter);
    if (is(i, Cls::kLetter)) return run_of(i, Cls::kLetter);
    // \p{N}{1,3}  (Qwen2: \p{N})
    if (is(i, Cls::kNumber)) return run_of(i, Cls::kNumber, pattern_ == SplitPattern::kQwen2 ? 1 : 3);
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    size_t k = cp_is(i, ' ') && is(i + 1, Cls::kOther) ? i + 1 : i;
    if (is(k, Cls::kOther)) return run_of(run_of(k, Cls::kOther), Cls::kNewline);
    // \s*[\r\n]+ : up to the last newline of the whitespace run
    size_t j = ws_run(i);
    for (size_t e = j; e > i; --e)
      if (is(e - 1, Cls::kNewline)) return e;
    return trailing_ws(i);
  }

  std::string_view text_;
  SplitPattern pattern_;
  std::vector<Char> c_;
};

}  // namespace

std::vector<std::string_view> split(std::string_view text, SplitPattern pattern) {
  return Scanner(text, pattern).run();
}

std::string_view pattern_source(SplitPattern pattern) {
  switch (pattern) {
    case SplitPattern::kGpt2:
      return R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
    case SplitPattern::kLlama3:
      return R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
    case SplitPattern::kQwen2:
      return R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  }
  return {};
}

}  // namespace binq::unicode
