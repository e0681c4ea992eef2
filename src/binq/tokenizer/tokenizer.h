// Text <-> token ids. Three implementations: llama2.c tokenizer.bin, SentencePiece
// tokenizer.model (libsentencepiece) and Hugging Face tokenizer.json (BPE).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace binq {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Encodes text; prepends BOS / appends EOS when asked. Never fails on any byte sequence.
  virtual std::vector<int> encode(std::string_view text, bool add_bos, bool add_eos = false) const = 0;
  // Decodes a whole sequence (BOS/EOS and other control tokens are dropped).
  virtual std::string decode(const std::vector<int>& ids) const = 0;
  // Text of one token when streaming, given the previous token (handles the leading-space
  // rule after BOS and byte tokens like <0x0A>). May return an incomplete UTF-8 sequence.
  virtual std::string decode_token(int prev, int id) const = 0;
  virtual int vocab_size() const = 0;
  virtual int bos_id() const = 0;
  virtual int eos_id() const = 0;
  virtual std::string describe() const = 0;
};

// Picks the implementation from the file: tokenizer.json (JSON), tokenizer.model (SentencePiece
// protobuf) or llama2.c tokenizer.bin. `vocab_size` (0 = unknown) is checked against the file.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path, int vocab_size = 0);

// The tokenizer file that belongs to a model path (same folder, or the HF dir), or "" if none:
// tokenizer.json, tokenizer.model, then llama2.c names (tokenizer.bin, tok<vocab>.bin).
std::string find_tokenizer_for(const std::string& model_path, int vocab_size);

}  // namespace binq
