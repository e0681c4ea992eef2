// llama2.c tokenizer.bin: int32 max_token_length, then per token float32 score, int32 length and
// the piece bytes ("▁" already replaced by ' '). Encoding follows llama2.c's encode() exactly.
#include <fmt/format.h>

#include <cstring>
#include <unordered_map>

#include "binq/core/error.h"
#include "binq/core/mapped_file.h"
#include "binq/tokenizer/bpe.h"
#include "binq/tokenizer/unicode.h"

namespace binq {
namespace {

// llama2.c hard-codes these ids (they are SentencePiece's defaults for Llama-family models).
constexpr int kBos = 1;
constexpr int kEos = 2;
constexpr int kByteOffset = 3;  // byte b is token b + 3 (<0x00> .. <0xFF> follow <unk>, <s>, </s>)
// A piece longer than this is certainly a corrupt length field, not a token.
constexpr int32_t kMaxPieceBytes = 1 << 16;

class Llama2cTokenizer : public Tokenizer {
 public:
  Llama2cTokenizer(const std::string& path, int vocab_size) : path_(path) {
    auto f = MappedFile::open(path);
    uint64_t off = 0;
    auto read_i32 = [&](const char* what) {
      int32_t v;
      std::memcpy(&v, f->at(off, 4, what), 4);
      off += 4;
      return v;
    };
    max_token_length_ = read_i32("max_token_length header");
    if (max_token_length_ <= 0 || max_token_length_ > kMaxPieceBytes)
      fail("{}: llama2.c tokenizer header max_token_length = {} is not a plausible length", path,
           max_token_length_);
    while (off < f->size()) {
      std::string what = fmt::format("token {}", pieces_.size());
      float score;
      std::memcpy(&score, f->at(off, 4, what + " score"), 4);
      off += 4;
      int32_t len = read_i32((what + " length").c_str());
      if (len < 0 || len > kMaxPieceBytes)
        fail("{}: {} has length {} (expected 0..{}); not a llama2.c tokenizer.bin?", path, what,
             len, kMaxPieceBytes);
      const uint8_t* p = f->at(off, static_cast<uint64_t>(len), what + " bytes");
      off += static_cast<uint64_t>(len);
      pieces_.emplace_back(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
      scores_.push_back(score);
    }
    if (pieces_.empty()) fail("{}: llama2.c tokenizer has no tokens", path);
    if (vocab_size > 0 && static_cast<int>(pieces_.size()) != vocab_size)
      fail("{}: llama2.c tokenizer has {} tokens but the model's vocab_size is {}", path,
           pieces_.size(), vocab_size);
    // llama2.c binary-searches a sorted copy, so with duplicate pieces the id it finds is
    // unspecified; we keep the lowest id.
    index_.reserve(pieces_.size());
    for (int i = 0; i < static_cast<int>(pieces_.size()); ++i) index_.emplace(pieces_[i], i);
  }

  std::vector<int> encode(std::string_view text, bool add_bos, bool add_eos) const override {
    std::vector<int> ids;
    ids.reserve(text.size() + 3);
    // Dummy prefix: SentencePiece (add_dummy_prefix) starts the text with a space.
    if (!text.empty()) push_piece(ids, " ");
    for (size_t i = 0; i < text.size();) {
      size_t len = unicode::llama2c_char_len(text, i);
      push_piece(ids, text.substr(i, len));
      i += len;
    }
    std::string buf;
    bpe_merge(ids, [&](int a, int b, double* priority, int* merged) {
      buf.assign(pieces_[a]).append(pieces_[b]);
      auto it = index_.find(buf);
      // llama2.c starts its best score at -1e10, so pairs scoring at or below it never merge.
      if (it == index_.end() || !(scores_[it->second] > -1e10f)) return false;
      *priority = -static_cast<double>(scores_[it->second]);
      *merged = it->second;
      return true;
    });
    if (add_bos) ids.insert(ids.begin(), kBos);
    if (add_eos) ids.push_back(kEos);
    return ids;
  }

  std::string decode(const std::vector<int>& ids) const override {
    std::string out;
    int prev = -1;  // start of sequence behaves like "after BOS": the dummy-prefix space goes
    for (int id : ids) {
      out += decode_token(prev, id);
      prev = id;
    }
    return out;
  }

  std::string decode_token(int prev, int id) const override {
    check_id(id);
    if (id == kBos || id == kEos) return {};
    std::string_view piece = pieces_[id];
    // SentencePiece's decoder drops the dummy-prefix space of the first piece (llama2.c PR #89).
    if ((prev == kBos || prev < 0) && !piece.empty() && piece[0] == ' ') piece.remove_prefix(1);
    if (int b = parse_byte_piece(piece); b >= 0) return std::string(1, static_cast<char>(b));
    return std::string(piece);
  }

  int vocab_size() const override { return static_cast<int>(pieces_.size()); }
  int bos_id() const override { return kBos; }
  int eos_id() const override { return kEos; }
  std::string describe() const override {
    return fmt::format("llama2.c tokenizer {} ({} tokens)", path_, pieces_.size());
  }

 private:
  // Appends the token of `piece`, or its bytes as byte tokens when it is not in the vocabulary.
  void push_piece(std::vector<int>& ids, std::string_view piece) const {
    if (auto it = index_.find(std::string(piece)); it != index_.end()) {
      ids.push_back(it->second);
      return;
    }
    for (unsigned char c : piece) {
      int id = c + kByteOffset;
      // A vocabulary too small to hold byte tokens (not a SentencePiece export) gets <unk> (0)
      // rather than an out-of-range id.
      ids.push_back(id < vocab_size() ? id : 0);
    }
  }

  void check_id(int id) const {
    if (id < 0 || id >= vocab_size())
      fail("{}: token id {} is outside the vocabulary (0..{})", path_, id, vocab_size() - 1);
  }

  std::string path_;
  int32_t max_token_length_ = 0;
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string, int> index_;
};

}  // namespace

int parse_byte_piece(std::string_view p) {
  if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  int hi = hex(p[3]), lo = hex(p[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::string sp_unescape(std::string_view piece) {
  static constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581
  std::string out;
  out.reserve(piece.size());
  for (size_t i = 0; i < piece.size();) {
    if (piece.substr(i, 3) == kSpace) {
      out += ' ';
      i += 3;
    } else {
      out += piece[i++];
    }
  }
  return out;
}

std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::string& path, int vocab_size) {
  return std::make_unique<Llama2cTokenizer>(path, vocab_size);
}

}  // namespace binq
