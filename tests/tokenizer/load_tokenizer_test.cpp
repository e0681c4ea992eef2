// load_tokenizer's format detection, find_tokenizer_for, and clean failures on malformed
// tokenizer.json files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "binq/core/error.h"
#include "binq/tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"

namespace binq {
namespace {

void copy_file(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

TEST(LoadTokenizer, DetectsFormatByContentNotName) {
  std::string dir = test::temp_dir("detect");
  // Misleading names: detection must look at the bytes.
  copy_file(test::stories_tokenizer(), dir + "/a.json");
  copy_file(test::llama2_model(), dir + "/b.bin");
  test::write_bytes(dir + "/c.model", "  \n" + test::sp_to_hf_json(test::llama2_sp()));
  EXPECT_NE(load_tokenizer(dir + "/a.json")->describe().find("llama2.c"), std::string::npos);
  EXPECT_NE(load_tokenizer(dir + "/b.bin")->describe().find("SentencePiece tokenizer"), std::string::npos);
  EXPECT_NE(load_tokenizer(dir + "/c.model")->describe().find("Hugging Face"), std::string::npos);
  // A llama2.c file whose max_token_length is 10 starts with byte 0x0A like a protobuf.
  std::string tiny("\x0a\0\0\0", 4);
  float score = 0;
  int32_t len = 1;
  for (char c : std::string("ab")) {
    tiny.append(reinterpret_cast<char*>(&score), 4).append(reinterpret_cast<char*>(&len), 4).push_back(c);
  }
  test::write_bytes(dir + "/tiny.bin", tiny);
  auto t = load_tokenizer(dir + "/tiny.bin", 2);
  EXPECT_EQ(t->vocab_size(), 2);
  EXPECT_THROW(load_tokenizer(dir), Error);  // a directory
}

TEST(LoadTokenizer, FindTokenizerFor) {
  std::string dir = test::temp_dir("find");
  std::string model = dir + "/model.bin";
  test::write_bytes(model, "x");
  EXPECT_EQ(find_tokenizer_for(model, 512), "");
  test::write_bytes(dir + "/tok512.bin", "x");
  EXPECT_EQ(find_tokenizer_for(model, 512), dir + "/tok512.bin");
  EXPECT_EQ(find_tokenizer_for(model, 32000), "");
  test::write_bytes(dir + "/tokenizer.bin", "x");
  EXPECT_EQ(find_tokenizer_for(model, 512), dir + "/tokenizer.bin");
  test::write_bytes(dir + "/tokenizer.model", "x");
  EXPECT_EQ(find_tokenizer_for(model, 512), dir + "/tokenizer.model");
  test::write_bytes(dir + "/tokenizer.json", "x");
  EXPECT_EQ(find_tokenizer_for(model, 512), dir + "/tokenizer.json");
  EXPECT_EQ(find_tokenizer_for(dir, 0), dir + "/tokenizer.json");  // HF directory
  std::filesystem::create_directory(dir + "/empty");
  EXPECT_EQ(find_tokenizer_for(dir + "/empty", 0), "");
  // The shared stories260K model finds its tok512.bin.
  EXPECT_EQ(std::filesystem::path(find_tokenizer_for(test::stories_model(), 512)).filename(), "tok512.bin");
}

TEST(LoadTokenizer, MalformedJsonFailsCleanly) {
  std::string dir = test::temp_dir("badjson");
  auto load = [&](const std::string& text) {
    test::write_bytes(dir + "/tokenizer.json", text);
    return load_tokenizer(dir + "/tokenizer.json");
  };
  const std::string ok_model = R"("model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]})";
  EXPECT_NO_THROW(load("{" + ok_model + "}"));
  EXPECT_EQ(load("{" + ok_model + "}")->encode("aab", false), (std::vector<int>{0, 2}));
  const std::vector<std::string> bad = {
      "{",                                                           // truncated
      "{\"model\": ",                                                // truncated
      "[1, 2]",  // not '{': taken for llama2.c, which rejects it (still binq::Error)
      "{}",                                                          // no model
      R"({"model": null})",
      R"({"model": {"type": "WordPiece", "vocab": {}}})",            // unsupported model
      R"({"model": {"type": "BPE", "vocab": []}})",                  // vocab not an object
      R"({"model": {"type": "BPE", "vocab": {"a": "zero"}}})",       // id not a number
      R"({"model": {"type": "BPE", "vocab": {"a": -1}}})",           // negative id
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})",    // unknown token
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a a a"]}})",  // not a pair
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [["a"]]}})",
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "unk_token": "<unk>"}})",
      "{" + ok_model + R"(, "added_tokens": [{"id": 5}]})",          // no content
      "{" + ok_model + R"(, "normalizer": {"type": "Lowercase"}})",  // unsupported step
      "{" + ok_model + R"(, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Isolated"}})",
      "{" + ok_model + R"(, "pre_tokenizer": {"type": "Sequence"}})",  // no list
  };
  for (const std::string& text : bad) EXPECT_THROW(load(text), Error) << text;
}

}  // namespace
}  // namespace binq
