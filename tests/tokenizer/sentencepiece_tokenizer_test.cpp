// SentencePiece tokenizer.model through libsentencepiece: ids come from the library itself, so
// these tests check the wrapper (BOS/EOS, streaming decode, errors), not the segmentation.
#include <gtest/gtest.h>

#include "binq/core/error.h"
#include "binq/tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"

namespace binq {
namespace {

TEST(SentencePieceTokenizer, LoadsLlama2) {
  auto tok = load_tokenizer(test::llama2_model(), 32000);
  EXPECT_EQ(tok->vocab_size(), test::llama2_sp().GetPieceSize());
  EXPECT_EQ(tok->bos_id(), test::llama2_sp().bos_id());
  EXPECT_EQ(tok->eos_id(), test::llama2_sp().eos_id());
  EXPECT_NE(tok->describe().find("SentencePiece"), std::string::npos);
}

TEST(SentencePieceTokenizer, EncodeMatchesLibraryAndAddsBosEos) {
  auto tok = load_tokenizer(test::llama2_model());
  for (const std::string& s : test::roundtrip_samples()) {
    std::vector<int> expected;
    ASSERT_TRUE(test::llama2_sp().Encode(s, &expected).ok());
    EXPECT_EQ(tok->encode(s, false), expected);
    expected.insert(expected.begin(), tok->bos_id());
    expected.push_back(tok->eos_id());
    EXPECT_EQ(tok->encode(s, true, true), expected);
  }
}

TEST(SentencePieceTokenizer, RoundTripsAndStreams) {
  auto tok = load_tokenizer(test::llama2_model());
  for (const std::string& s : test::roundtrip_samples()) {
    std::vector<int> ids = tok->encode(s, true, true);
    EXPECT_EQ(tok->decode(ids), s);
    // decode_token re-implements Decode per piece; concatenated it must give the same text.
    std::string streamed;
    for (size_t i = 1; i < ids.size(); ++i) streamed += tok->decode_token(ids[i - 1], ids[i]);
    EXPECT_EQ(streamed, s);
  }
  // Invalid UTF-8: SentencePiece substitutes U+FFFD, so only "no crash, some output" is required.
  for (const std::string& s : test::invalid_utf8_samples()) {
    std::vector<int> ids = tok->encode(s, false);
    EXPECT_FALSE(ids.empty());
    EXPECT_NO_THROW(tok->decode(ids));
  }
  EXPECT_THROW(tok->decode({-1}), Error);
  EXPECT_THROW(tok->decode_token(1, 32000), Error);
}

TEST(SentencePieceTokenizer, RejectsBadFiles) {
  std::string dir = test::temp_dir("sp-bad");
  // Starts like a ModelProto (field 1, length-delimited) but is garbage.
  test::write_bytes(dir + "/tokenizer.model", std::string("\x0a\x05hello\x12\xff\xff", 10));
  EXPECT_THROW(load_tokenizer(dir + "/tokenizer.model"), Error);
  EXPECT_THROW(load_tokenizer(test::llama2_model(), 1000), Error);  // more pieces than the model
  EXPECT_NO_THROW(load_tokenizer(test::llama2_model(), 32064));     // padded embedding is fine
}

}  // namespace
}  // namespace binq
