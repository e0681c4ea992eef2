// SentencePiece tokenizer.model through libsentencepiece: the library itself does normalization,
// BPE / unigram segmentation and byte fallback, so this is the reference the others are tested
// against.
#include <fmt/format.h>
#include <sentencepiece_processor.h>

#include "binq/core/error.h"
#include "binq/core/paths.h"
#include "binq/tokenizer/bpe.h"

namespace binq {
namespace {

class SentencePieceTokenizer : public Tokenizer {
 public:
  SentencePieceTokenizer(const std::string& path, int vocab_size) : path_(path) {
    if (!path_exists(path)) fail("{}: tokenizer file not found", path);
    auto status = sp_.Load(path);
    if (!status.ok())
      fail("{}: not a valid SentencePiece tokenizer.model: {}", path, status.ToString());
    n_ = sp_.GetPieceSize();
    if (n_ <= 0) fail("{}: SentencePiece model has no pieces", path);
    // Checkpoints often pad the embedding past the tokenizer (e.g. to a multiple of 64), so only a
    // tokenizer that can emit ids the model lacks is an error.
    if (vocab_size > 0 && n_ > vocab_size)
      fail("{}: SentencePiece model has {} pieces but the model's vocab_size is only {}", path, n_,
           vocab_size);
  }

  std::vector<int> encode(std::string_view text, bool add_bos, bool add_eos) const override {
    std::vector<int> ids;
    auto status = sp_.Encode(absl::string_view(text.data(), text.size()), &ids);
    if (!status.ok()) fail("{}: SentencePiece encode failed: {}", path_, status.ToString());
    if (add_bos && sp_.bos_id() >= 0) ids.insert(ids.begin(), sp_.bos_id());
    if (add_eos && sp_.eos_id() >= 0) ids.push_back(sp_.eos_id());
    return ids;
  }

  std::string decode(const std::vector<int>& ids) const override {
    for (int id : ids) check_id(id);
    std::string out;
    auto status = sp_.Decode(ids, &out);
    if (!status.ok()) fail("{}: SentencePiece decode failed: {}", path_, status.ToString());
    return out;
  }

  // Mirrors what Decode does for one piece, so streaming output concatenates to decode()'s text
  // for Llama-style models (add_dummy_prefix, byte fallback).
  std::string decode_token(int prev, int id) const override {
    check_id(id);
    if (sp_.IsControl(id)) return {};
    if (sp_.IsByte(id)) {
      int b = parse_byte_piece(sp_.IdToPiece(id));
      return b >= 0 ? std::string(1, static_cast<char>(b)) : std::string();
    }
    if (sp_.IsUnknown(id)) return " \xE2\x81\x87 ";  // SentencePiece's default unk surface " ⁇ "
    std::string text = sp_unescape(sp_.IdToPiece(id));
    if ((prev < 0 || prev == sp_.bos_id()) && !text.empty() && text[0] == ' ') text.erase(0, 1);
    return text;
  }

  int vocab_size() const override { return n_; }
  int bos_id() const override { return sp_.bos_id(); }
  int eos_id() const override { return sp_.eos_id(); }
  std::string describe() const override {
    return fmt::format("SentencePiece tokenizer {} ({} pieces)", path_, n_);
  }

 private:
  void check_id(int id) const {
    if (id < 0 || id >= n_)
      fail("{}: token id {} is outside the vocabulary (0..{})", path_, id, n_ - 1);
  }

  std::string path_;
  sentencepiece::SentencePieceProcessor sp_;
  int n_ = 0;
};

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& path, int vocab_size) {
  return std::make_unique<SentencePieceTokenizer>(path, vocab_size);
}

}  // namespace binq
