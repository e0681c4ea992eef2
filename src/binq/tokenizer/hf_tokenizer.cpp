// Hugging Face tokenizer.json with a BPE model, in the two flavors LLaMA-family checkpoints use:
//  * SentencePiece-style (Llama-2, Mistral): "▁" for spaces via the Prepend/Replace normalizers or
//    the Metaspace pre-tokenizer, byte_fallback to <0xXX> tokens, decoder strips the first space;
//  * byte-level (GPT-2, Llama-3, Qwen2): a regex split, then every byte mapped to a printable
//    character (GPT-2's bytes_to_unicode) before BPE; decoding maps characters back to bytes.
// The normalizer and pre-tokenizer steps are run in file order; unsupported step types are
// rejected instead of silently tokenizing differently from Hugging Face.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "binq/core/error.h"
#include "binq/core/mapped_file.h"
#include "binq/core/paths.h"
#include "binq/tokenizer/bpe.h"
#include "binq/tokenizer/unicode.h"

namespace binq {
namespace {

using json = nlohmann::json;
constexpr std::string_view kMeta = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

enum class PrependScheme { kNever, kFirst, kAlways };

// One normalizer or pre-tokenizer step.
struct Step {
  enum Kind { kPrepend, kReplace, kMetaspace, kSplit, kByteLevel } kind = kPrepend;
  std::string from, to;  // Prepend: `to`; Replace: `from` -> `to`; Metaspace: `to` = replacement
  PrependScheme scheme = PrependScheme::kNever;
  bool split = false;              // Metaspace: split before each replacement character
  bool add_prefix_space = false;   // ByteLevel
  bool use_regex = false;          // ByteLevel: GPT-2 split
  unicode::SplitPattern pattern{};  // Split
};

struct AddedToken {
  std::string content;
  int id;
  bool special, lstrip, rstrip;
};

// Steps listed directly or inside "Sequence" steps, in order.
void flatten(const json& j, const char* list_key, std::vector<const json*>& out) {
  if (j.is_null()) return;
  if (j.value("type", "") == "Sequence") {
    for (const json& sub : j.at(list_key)) flatten(sub, list_key, out);
  } else {
    out.push_back(&j);
  }
}

// lstrip / rstrip only look at ASCII whitespace: a byte test cannot see multi-byte spaces.
bool ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  if (from.empty()) return s;
  std::string out;
  size_t i = 0;
  for (size_t k; (k = s.find(from, i)) != std::string::npos; i = k + from.size())
    out.append(s, i, k - i).append(to);
  return out.append(s, i, std::string::npos);
}

std::string string_pattern(const json& step, const std::string& path) {
  const json& p = step.at("pattern");
  if (!p.contains("String"))
    fail("{}: {} step with a regex pattern is not supported (only {{\"String\": ...}})", path,
         step.value("type", "?"));
  return p.at("String").get<std::string>();
}

class HfTokenizer : public Tokenizer {
 public:
  HfTokenizer(const std::string& path, int vocab_size) : path_(path) {
    json root;
    try {
      root = json::parse(read_text_file(path));
    } catch (const json::exception& e) {
      fail("{}: not valid JSON: {}", path, e.what());
    }
    try {
      parse(root);
    } catch (const json::exception& e) {
      fail("{}: unexpected tokenizer.json structure: {}", path, e.what());
    }
    if (vocab_size > 0 && this->vocab_size() > vocab_size)
      fail("{}: tokenizer has {} tokens but the model's vocab_size is only {}", path,
           this->vocab_size(), vocab_size);
  }

  std::vector<int> encode(std::string_view text, bool add_bos, bool add_eos) const override {
    std::vector<int> ids;
    if (add_bos && bos_ >= 0) ids.push_back(bos_);
    size_t seg_start = 0;
    auto flush = [&](size_t end) {
      if (end > seg_start) encode_segment(text.substr(seg_start, end - seg_start), seg_start, ids);
    };
    for (size_t i = 0; i < text.size();) {
      const AddedToken* t = match_added(text, i);
      if (!t) {
        ++i;
        continue;
      }
      size_t end = i;  // lstrip / rstrip: the token swallows the whitespace beside it
      if (t->lstrip)
        while (end > seg_start && ascii_space(text[end - 1])) --end;
      flush(end);
      ids.push_back(t->id);
      i += t->content.size();
      if (t->rstrip)
        while (i < text.size() && ascii_space(text[i])) ++i;
      seg_start = i;
    }
    flush(text.size());
    if (add_eos && eos_ >= 0) ids.push_back(eos_);
    return ids;
  }

  std::string decode(const std::vector<int>& ids) const override {
    std::string out;
    int prev = -1;
    for (int id : ids) {
      out += decode_token(prev, id);
      prev = id;
    }
    return out;
  }

  std::string decode_token(int prev, int id) const override {
    if (id < 0 || id >= vocab_size())
      fail("{}: token id {} is outside the vocabulary (0..{})", path_, id, vocab_size() - 1);
    if (special_[id]) return {};
    const std::string& tok = tokens_[id];
    if (byte_level_) {
      std::string out;
      for (size_t i = 0; i < tok.size();) {
        uint32_t cp;
        size_t len = unicode::next_codepoint(tok, i, &cp);
        int b = cp == unicode::kInvalid ? -1 : unicode::unicode_to_byte(cp);
        if (b >= 0) out += static_cast<char>(b);
        else out.append(tok, i, len);  // not from the byte alphabet (an added token): keep as is
        i += len;
      }
      return out;
    }
    if (byte_fallback_)
      if (int b = parse_byte_piece(tok); b >= 0) return std::string(1, static_cast<char>(b));
    std::string text = sp_unescape(tok);
    if (strip_first_space_ && (prev < 0 || prev == bos_) && !text.empty() && text[0] == ' ')
      text.erase(0, 1);
    return text;
  }

  int vocab_size() const override { return static_cast<int>(tokens_.size()); }
  int bos_id() const override { return bos_; }
  int eos_id() const override { return eos_; }
  std::string describe() const override {
    return fmt::format("Hugging Face tokenizer {} (BPE, {}, {} tokens, {} merges)", path_,
                       byte_level_ ? "byte-level" : "SentencePiece-style", tokens_.size(),
                       merges_.size());
  }

 private:
  void parse(const json& root) {
    if (!root.is_object()) fail("{}: expected a JSON object", path_);
    if (!root.contains("model") || !root["model"].is_object())
      fail("{}: tokenizer.json has no \"model\" object", path_);
    const json& model = root["model"];
    std::string type = model.value("type", "BPE");  // old files omit the type of BPE models
    if (type != "BPE")
      fail("{}: model type \"{}\" is not supported (only BPE)", path_, type);
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (model.contains(key) && !model[key].is_null() && !model[key].get<std::string>().empty())
        fail("{}: BPE option \"{}\" is not supported", path_, key);
    parse_vocab(model);
    parse_added(root);
    parse_merges(model);
    byte_fallback_ = model.value("byte_fallback", false);
    fuse_unk_ = model.value("fuse_unk", false);
    ignore_merges_ = model.value("ignore_merges", false);
    if (model.contains("unk_token") && model["unk_token"].is_string()) {
      auto it = vocab_.find(model["unk_token"].get<std::string>());
      if (it == vocab_.end()) fail("{}: unk_token is not in the vocabulary", path_);
      unk_ = it->second;
    }
    byte_tokens_.fill(-1);
    for (int b = 0; b < 256; ++b)
      if (auto it = vocab_.find(fmt::format("<0x{:02X}>", b)); it != vocab_.end()) byte_tokens_[b] = it->second;
    parse_steps(root);
    parse_decoder(root.contains("decoder") ? root["decoder"] : json());
    resolve_bos_eos();
  }

  void parse_vocab(const json& model) {
    const json& v = model.at("vocab");
    if (!v.is_object()) fail("{}: model.vocab must be an object of token -> id", path_);
    for (auto it = v.begin(); it != v.end(); ++it) add_token(it.key(), it.value().get<int>(), false);
  }

  void parse_added(const json& root) {
    if (!root.contains("added_tokens") || root["added_tokens"].is_null()) return;
    for (const json& a : root["added_tokens"]) {
      AddedToken t{a.at("content").get<std::string>(), a.at("id").get<int>(),
                   a.value("special", false), a.value("lstrip", false), a.value("rstrip", false)};
      add_token(t.content, t.id, t.special);
      if (!t.content.empty()) added_.push_back(std::move(t));
    }
    // Leftmost-longest matching (what HF's aho-corasick does): candidates by first byte, longest
    // first.
    std::sort(added_.begin(), added_.end(),
              [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
    for (size_t k = 0; k < added_.size(); ++k)
      by_first_byte_[static_cast<uint8_t>(added_[k].content[0])].push_back(static_cast<int>(k));
  }

  void add_token(const std::string& s, int id, bool special) {
    // Ids index arrays; a wildly sparse id is a corrupt file, not a reason to allocate gigabytes.
    if (id < 0 || id > (1 << 21)) fail("{}: token \"{}\" has unusable id {}", path_, s, id);
    if (id >= vocab_size()) {
      tokens_.resize(id + 1);
      special_.resize(id + 1, 0);
    }
    tokens_[id] = s;
    special_[id] = special_[id] || special;
    vocab_.emplace(s, id);
  }

  void parse_merges(const json& model) {
    if (!model.contains("merges")) return;
    const json& m = model["merges"];
    merges_.reserve(m.size());
    int rank = 0;
    for (const json& e : m) {
      std::string a, b;
      if (e.is_string()) {  // "left right" (tokenizers < 0.20)
        const std::string& s = e.get_ref<const std::string&>();
        size_t sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
          fail("{}: merge #{} \"{}\" is not two tokens separated by one space", path_, rank, s);
        a = s.substr(0, sp), b = s.substr(sp + 1);
      } else {  // ["left", "right"]
        if (!e.is_array() || e.size() != 2) fail("{}: merge #{} is not a pair", path_, rank);
        a = e[0].get<std::string>(), b = e[1].get<std::string>();
      }
      auto ia = vocab_.find(a), ib = vocab_.find(b), im = vocab_.find(a + b);
      if (ia == vocab_.end() || ib == vocab_.end() || im == vocab_.end())
        fail("{}: merge #{} (\"{}\", \"{}\") uses a token that is not in the vocabulary", path_,
             rank, a, b);
      // A repeated pair keeps its last rank, as HF's map construction does.
      merges_[key(ia->second, ib->second)] = {rank++, im->second};
    }
  }

  void parse_steps(const json& root) {
    std::vector<const json*> norms, pres;
    if (root.contains("normalizer")) flatten(root["normalizer"], "normalizers", norms);
    if (root.contains("pre_tokenizer")) flatten(root["pre_tokenizer"], "pretokenizers", pres);
    for (const json* n : norms) {
      std::string t = n->value("type", "");
      if (t == "Prepend") {
        Step s;
        s.kind = Step::kPrepend;
        s.to = n->at("prepend").get<std::string>();
        normalizer_.push_back(s);
      } else if (t == "Replace") {
        Step s;
        s.kind = Step::kReplace;
        s.from = string_pattern(*n, path_);
        s.to = n->at("content").get<std::string>();
        normalizer_.push_back(s);
      } else if (t == "NFC") {
        // Recomposition would need the Unicode composition tables; almost all text is NFC
        // already, so we warn and go on rather than refuse e.g. Qwen2 tokenizers.
        warn(path_ + ": NFC normalizer is not implemented; input is assumed to be NFC already");
      } else {
        fail("{}: normalizer \"{}\" is not supported", path_, t);
      }
    }
    for (const json* p : pres) {
      std::string t = p->value("type", "");
      if (t == "Metaspace") {
        Step s;
        s.kind = Step::kMetaspace;
        s.to = p->value("replacement", std::string(kMeta));
        std::string scheme = p->value("prepend_scheme", "");
        if (scheme.empty()) scheme = p->value("add_prefix_space", true) ? "always" : "never";
        s.scheme = scheme == "first" ? PrependScheme::kFirst
                   : scheme == "never" ? PrependScheme::kNever
                                       : PrependScheme::kAlways;
        s.split = p->value("split", true);  // files from before the option always split
        pre_.push_back(s);
      } else if (t == "Split") {
        Step s;
        s.kind = Step::kSplit;
        const json& pat = p->at("pattern");
        std::string re = pat.contains("Regex") ? pat["Regex"].get<std::string>() : "";
        bool known = false;
        for (auto sp : {unicode::SplitPattern::kGpt2, unicode::SplitPattern::kLlama3, unicode::SplitPattern::kQwen2})
          if (re == unicode::pattern_source(sp)) s.pattern = sp, known = true;
        if (!known || p->value("behavior", "Isolated") != "Isolated" || p->value("invert", false))
          fail("{}: Split pre-tokenizer is only supported with the GPT-2 / Llama-3 / Qwen2 regex, "
               "behavior Isolated, not inverted (got {})", path_, pat.dump());
        pre_.push_back(s);
      } else if (t == "ByteLevel") {
        Step s;
        s.kind = Step::kByteLevel;
        s.add_prefix_space = p->value("add_prefix_space", false);
        s.use_regex = p->value("use_regex", true);
        pre_.push_back(s);
        byte_level_ = true;
      } else {
        fail("{}: pre_tokenizer \"{}\" is not supported", path_, t);
      }
    }
  }

  void parse_decoder(const json& d) {
    std::vector<const json*> steps;
    flatten(d, "decoders", steps);
    for (const json* s : steps) {
      std::string t = s->value("type", "");
      if (t == "ByteLevel") byte_level_ = true;
      // Strip(" ", start >= 1) after Fuse, or Metaspace with a prefix: drop the first space.
      if (t == "Strip" && s->value("start", 0) >= 1) strip_first_space_ = true;
      if (t == "Metaspace") {
        std::string scheme = s->value("prepend_scheme", "");
        if (scheme.empty()) scheme = s->value("add_prefix_space", true) ? "always" : "never";
        if (scheme != "never") strip_first_space_ = true;
      }
    }
  }

  // tokenizer_config.json next to the file names them; otherwise the usual LLaMA-family names.
  void resolve_bos_eos() {
    auto id_of = [&](const std::string& s) {
      auto it = vocab_.find(s);
      return it == vocab_.end() ? -1 : it->second;
    };
    std::string cfg_path = (std::filesystem::path(path_).parent_path() / "tokenizer_config.json").string();
    std::string bos_name, eos_name;
    if (path_exists(cfg_path)) {
      json cfg;
      try {
        cfg = json::parse(read_text_file(cfg_path));
        auto name = [&](const char* key) -> std::string {
          if (!cfg.contains(key)) return {};
          const json& v = cfg[key];
          if (v.is_string()) return v.get<std::string>();
          if (v.is_object() && v.contains("content")) return v["content"].get<std::string>();
          return {};
        };
        bos_name = name("bos_token"), eos_name = name("eos_token");
      } catch (const json::exception& e) {
        fail("{}: cannot read bos_token / eos_token: {}", cfg_path, e.what());
      }
    }
    auto pick = [&](const std::string& configured, std::initializer_list<const char*> names) {
      if (!configured.empty()) {
        int id = id_of(configured);
        if (id < 0) warn(fmt::format("{}: token \"{}\" is not in {}", cfg_path, configured, path_));
        return id;
      }
      for (const char* n : names)
        if (int id = id_of(n); id >= 0) return id;
      return -1;
    };
    bos_ = pick(bos_name, {"<s>", "<|begin_of_text|>", "<|endoftext|>"});
    eos_ = pick(eos_name, {"</s>", "<|end_of_text|>", "<|endoftext|>"});
  }

  static uint64_t key(int a, int b) { return static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32 | static_cast<uint32_t>(b); }

  const AddedToken* match_added(std::string_view text, size_t i) const {
    for (int k : by_first_byte_[static_cast<uint8_t>(text[i])]) {
      const std::string& c = added_[k].content;
      if (text.compare(i, c.size(), c) == 0) return &added_[k];
    }
    return nullptr;
  }

  // Normalizes and pre-tokenizes text between added tokens; `offset` is where it starts in the
  // input (Metaspace's "first" scheme prepends only at offset 0).
  void encode_segment(std::string_view segment, size_t offset, std::vector<int>& ids) const {
    std::string s(segment);
    for (const Step& n : normalizer_) {
      if (n.kind == Step::kPrepend && !s.empty()) s.insert(0, n.to);
      if (n.kind == Step::kReplace) s = replace_all(std::move(s), n.from, n.to);
    }
    std::vector<std::string> pieces{std::move(s)};
    for (const Step& p : pre_) {
      std::vector<std::string> next;
      for (size_t k = 0; k < pieces.size(); ++k) {
        std::string& w = pieces[k];
        if (p.kind == Step::kMetaspace) {
          w = replace_all(std::move(w), " ", p.to);
          bool at_start = offset == 0 && k == 0;
          if ((p.scheme == PrependScheme::kAlways || (p.scheme == PrependScheme::kFirst && at_start)) &&
              !w.starts_with(p.to))
            w.insert(0, p.to);
          if (!p.split) {
            next.push_back(std::move(w));
            continue;
          }
          size_t start = 0;  // MergedWithNext: each replacement char begins a new piece
          for (size_t at; (at = w.find(p.to, start + 1)) != std::string::npos && !p.to.empty(); start = at)
            next.push_back(w.substr(start, at - start));
          next.push_back(w.substr(start));
        } else if (p.kind == Step::kSplit) {
          for (std::string_view v : unicode::split(w, p.pattern)) next.emplace_back(v);
        } else if (p.kind == Step::kByteLevel) {
          if (p.add_prefix_space && !w.starts_with(' ')) w.insert(0, " ");
          std::vector<std::string_view> parts;
          if (p.use_regex) parts = unicode::split(w, unicode::SplitPattern::kGpt2);
          else parts.push_back(w);
          const auto& map = unicode::byte_to_unicode();
          for (std::string_view part : parts) {
            std::string mapped;
            for (unsigned char c : part) mapped += map[c];
            next.push_back(std::move(mapped));
          }
        }
      }
      pieces = std::move(next);
    }
    for (const std::string& w : pieces)
      if (!w.empty()) encode_word(w, ids);
  }

  void encode_word(const std::string& w, std::vector<int>& out) const {
    if (ignore_merges_)
      if (auto it = vocab_.find(w); it != vocab_.end()) return out.push_back(it->second);
    std::vector<int> ids;
    bool prev_unk = false;
    for (size_t i = 0; i < w.size();) {
      uint32_t cp;
      size_t len = unicode::next_codepoint(w, i, &cp);
      std::string_view ch(w.data() + i, len);
      i += len;
      if (auto it = vocab_.find(std::string(ch)); it != vocab_.end()) {
        ids.push_back(it->second), prev_unk = false;
        continue;
      }
      bool bytes_ok = byte_fallback_;
      for (unsigned char c : ch) bytes_ok = bytes_ok && byte_tokens_[c] >= 0;
      if (bytes_ok) {
        for (unsigned char c : ch) ids.push_back(byte_tokens_[c]);
        prev_unk = false;
      } else if (unk_ >= 0) {
        if (!(fuse_unk_ && prev_unk)) ids.push_back(unk_);
        prev_unk = true;
      }
      // No byte fallback and no unk token: HF drops the character; so do we.
    }
    bpe_merge(ids, [&](int a, int b, double* priority, int* merged) {
      auto it = merges_.find(key(a, b));
      if (it == merges_.end()) return false;
      *priority = it->second.first;
      *merged = it->second.second;
      return true;
    });
    out.insert(out.end(), ids.begin(), ids.end());
  }

  std::string path_;
  std::unordered_map<std::string, int> vocab_;  // model vocab and added tokens
  std::vector<std::string> tokens_;             // id -> token string ("" for unused ids)
  std::vector<uint8_t> special_;                // dropped when decoding
  std::unordered_map<uint64_t, std::pair<int, int>> merges_;  // (left, right) -> (rank, merged)
  std::vector<AddedToken> added_;
  std::array<std::vector<int>, 256> by_first_byte_;
  std::array<int, 256> byte_tokens_{};
  std::vector<Step> normalizer_, pre_;
  int unk_ = -1, bos_ = -1, eos_ = -1;
  bool byte_fallback_ = false, fuse_unk_ = false, ignore_merges_ = false;
  bool byte_level_ = false, strip_first_space_ = false;
};

}  // namespace

std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& path, int vocab_size) {
  return std::make_unique<HfTokenizer>(path, vocab_size);
}

}  // namespace binq
