// Chooses the tokenizer implementation from a file's content, and finds the tokenizer file that
// goes with a model.
#include <cstring>
#include <filesystem>

#include "binq/core/error.h"
#include "binq/core/mapped_file.h"
#include "binq/core/paths.h"
#include "binq/tokenizer/bpe.h"
#include "binq/tokenizer/tokenizer.h"

namespace binq {
namespace {

enum class Format { kJson, kSentencePiece, kLlama2c };

// True when the bytes walk exactly as a llama2.c tokenizer.bin: header, then (score, length,
// bytes) records with sane lengths ending precisely at EOF.
bool walks_as_llama2c(const MappedFile& f) {
  const uint8_t* d = f.data();
  size_t n = f.size(), off = 4;
  if (n < 4) return false;
  int32_t max_len;
  std::memcpy(&max_len, d, 4);
  if (max_len <= 0 || max_len > (1 << 16)) return false;
  size_t count = 0;
  while (off < n) {
    int32_t len;
    if (n - off < 8) return false;
    std::memcpy(&len, d + off + 4, 4);
    if (len < 0 || len > (1 << 16) || n - off - 8 < static_cast<size_t>(len)) return false;
    off += 8 + static_cast<size_t>(len);
    ++count;
  }
  return count > 0;
}

Format detect(const std::string& path) {
  auto f = MappedFile::open(path);
  size_t i = 0;
  while (i < f->size() && std::strchr(" \t\r\n", f->data()[i]) && f->data()[i] != 0) ++i;
  if (i < f->size() && f->data()[i] == '{') return Format::kJson;
  // A SentencePiece ModelProto starts with field 1 (pieces, length-delimited): tag byte 0x0A.
  // llama2.c's first int32 could also begin with 0x0A (max_token_length 10), so a file that
  // parses cleanly as llama2.c wins.
  if (f->size() > 0 && f->data()[0] == 0x0A && !walks_as_llama2c(*f)) return Format::kSentencePiece;
  return Format::kLlama2c;
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path, int vocab_size) {
  if (is_directory(path)) fail("{}: is a directory; expected a tokenizer file", path);
  switch (detect(path)) {
    case Format::kJson:
      return load_hf_tokenizer(path, vocab_size);
    case Format::kSentencePiece:
      return load_sentencepiece_tokenizer(path, vocab_size);
    case Format::kLlama2c:
      break;
  }
  return load_llama2c_tokenizer(path, vocab_size);
}

std::string find_tokenizer_for(const std::string& model_path, int vocab_size) {
  namespace fs = std::filesystem;
  fs::path dir = is_directory(model_path) ? fs::path(model_path) : fs::path(model_path).parent_path();
  if (dir.empty()) dir = ".";
  // Richest format first: tokenizer.json carries added tokens and the exact HF pipeline.
  std::vector<std::string> names = {"tokenizer.json", "tokenizer.model", "tokenizer.bin"};
  if (vocab_size > 0) names.push_back("tok" + std::to_string(vocab_size) + ".bin");
  for (const std::string& n : names) {
    fs::path p = dir / n;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  return "";
}

}  // namespace binq
