// llama2.c checkpoints: the shared stories260K file, legacy/v1 round trips, and refusals.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include "binq/core/mapped_file.h"
#include "binq/io/checkpoint.h"
#include "binq/io/llama2c.h"
#include "binq/io/rope_permute.h"
#include "common/test_util.h"
#include "io_fixtures.h"

namespace binq {
namespace {

std::string read_all(const std::string& path) { return read_text_file(path); }

void put_i32(std::string& bytes, size_t offset, int32_t v) { std::memcpy(&bytes[offset], &v, 4); }
void put_f32(std::string& bytes, size_t offset, float v) { std::memcpy(&bytes[offset], &v, 4); }
float get_f32(const std::string& bytes, size_t offset) {
  float v;
  std::memcpy(&v, &bytes[offset], 4);
  return v;
}

TEST(Llama2c, StoriesConfigMatchesReadme) {
  auto w = load_llama2c(test::stories_model());
  const ModelConfig& c = w->config;
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.hidden_dim, 172);
  EXPECT_EQ(c.n_layers, 5);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.max_seq_len, 512);
  EXPECT_TRUE(c.tie_embeddings);
  EXPECT_EQ(c.rope_style, RopeStyle::Interleaved);
  EXPECT_EQ(c.rope_theta, 10000.0f);
  EXPECT_EQ(c.norm_eps, 1e-5f);
  EXPECT_EQ(c.bos_id, 1);
  EXPECT_EQ(c.eos_id, 2);
  EXPECT_EQ(w->output.data, w->tok_embeddings);
  EXPECT_EQ(w->source, test::stories_model());
}

// Pointers go into the map at the offsets llama2.c's run.c computes, independently recomputed here.
TEST(Llama2c, StoriesTensorsPointIntoTheFileAtLlama2cOffsets) {
  auto w = load_llama2c(test::stories_model());
  const std::string raw = read_all(test::stories_model());
  const ModelConfig& c = w->config;
  const size_t D = 64, H = 172, L = 5, V = 512, KV = 32;
  size_t off = 28;  // floats follow the 7 x int32 header
  auto check = [&](const float* p, size_t floats, const char* what) {
    ASSERT_NE(p, nullptr) << what;
    for (size_t i = 0; i < floats; i += 97) ASSERT_EQ(p[i], get_f32(raw, off + 4 * i)) << what << " element " << i;
  };
  check(w->tok_embeddings, V * D, "tok_embeddings");
  off += V * D * 4;
  for (size_t l = 0; l < L; ++l, off += D * 4) check(w->layers[l].attn_norm, D, "rms_att");
  for (size_t l = 0; l < L; ++l, off += D * D * 4) check(w->layers[l].w(LinearKind::Q).data, D * D, "wq");
  for (size_t l = 0; l < L; ++l, off += KV * D * 4) check(w->layers[l].w(LinearKind::K).data, KV * D, "wk");
  for (size_t l = 0; l < L; ++l, off += KV * D * 4) check(w->layers[l].w(LinearKind::V).data, KV * D, "wv");
  for (size_t l = 0; l < L; ++l, off += D * D * 4) check(w->layers[l].w(LinearKind::O).data, D * D, "wo");
  for (size_t l = 0; l < L; ++l, off += D * 4) check(w->layers[l].ffn_norm, D, "rms_ffn");
  for (size_t l = 0; l < L; ++l, off += H * D * 4) check(w->layers[l].w(LinearKind::Gate).data, H * D, "w1");
  for (size_t l = 0; l < L; ++l, off += H * D * 4) check(w->layers[l].w(LinearKind::Down).data, H * D, "w2");
  for (size_t l = 0; l < L; ++l, off += H * D * 4) check(w->layers[l].w(LinearKind::Up).data, H * D, "w3");
  check(w->final_norm, D, "rms_final");
  off += D * 4 + 2 * 512 * 4 * 4;  // + freq_cis_real and freq_cis_imag [seq, head_dim/2]
  EXPECT_EQ(off, raw.size());
  // No copies: the embedding table is the mapped file itself.
  auto file = std::static_pointer_cast<const MappedFile>(w->keep_alive.at(0));
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(w->tok_embeddings), file->data() + 28);
  EXPECT_EQ(w->layers[4].w(LinearKind::Down).rows, c.dim);
  EXPECT_EQ(w->layers[4].w(LinearKind::Down).cols, c.hidden_dim);
}

// v1 order (export.py version1_export), recomputed independently of the loader's layout table:
// norms first, then embeddings, then wq wk wv wo w1 w2 w3 of all layers, then wcls if unshared.
TEST(Llama2c, V1TensorsSitAtExportPyOffsets) {
  auto original = test::random_weights(test::tiny_config(/*tied=*/false), 5);
  const std::string path = test::temp_dir("l2c-v1") + "/m.bin";
  write_llama2c(*original, path, Llama2cFormat::V1);
  const std::string raw = read_all(path);
  auto w = load_llama2c(path);
  auto file = std::static_pointer_cast<const MappedFile>(w->keep_alive.at(0));
  const size_t D = 16, H = 24, L = 2, V = 32, KV = 8;
  size_t off = 256;
  auto at = [&](const float* p, size_t floats, const std::string& what) {
    EXPECT_EQ(reinterpret_cast<const uint8_t*>(p), file->data() + off) << what;
    EXPECT_EQ(p[floats - 1], get_f32(raw, off + 4 * (floats - 1))) << what;
    off += 4 * floats;
  };
  for (size_t l = 0; l < L; ++l) at(w->layers[l].attn_norm, D, "rms_att");
  for (size_t l = 0; l < L; ++l) at(w->layers[l].ffn_norm, D, "rms_ffn");
  at(w->final_norm, D, "rms_final");
  at(w->tok_embeddings, V * D, "tok_embeddings");
  const std::pair<LinearKind, size_t> order[] = {{LinearKind::Q, D * D},     {LinearKind::K, KV * D},
                                                 {LinearKind::V, KV * D},    {LinearKind::O, D * D},
                                                 {LinearKind::Gate, H * D},  {LinearKind::Down, D * H},
                                                 {LinearKind::Up, H * D}};
  for (auto [kind, n] : order)
    for (size_t l = 0; l < L; ++l) at(w->layers[l].w(kind).data, n, linear_name(kind));
  at(w->output.data, V * D, "wcls");
  EXPECT_EQ(off, raw.size());
}

struct RoundTrip : ::testing::TestWithParam<std::tuple<Llama2cFormat, bool>> {};

TEST_P(RoundTrip, WriteThenReadGivesTheSameModel) {
  auto [format, tied] = GetParam();
  auto original = test::random_weights(test::tiny_config(tied), 7);
  const std::string path = test::temp_dir("l2c") + "/model.bin";
  write_llama2c(*original, path, format);
  auto loaded = load_llama2c(path);
  test::expect_config_eq(original->config, loaded->config);
  test::expect_weights_eq(*original, *loaded);
  EXPECT_EQ(loaded->output.data == loaded->tok_embeddings, tied);

  const std::string raw = read_all(path);
  if (format == Llama2cFormat::V1) {
    uint32_t magic;
    std::memcpy(&magic, raw.data(), 4);
    EXPECT_EQ(magic, 0x616b3432u);
    EXPECT_EQ(raw.substr(0, 4), "24ka");  // struct.pack('I') is little-endian
    EXPECT_EQ(uint8_t(raw[36]), tied ? 1 : 0);
    // v1 data starts with rms_att of layer 0 right after the 256-byte header.
    EXPECT_EQ(get_f32(raw, 256), original->layers[0].attn_norm[0]);
  } else {
    int32_t vocab;
    std::memcpy(&vocab, raw.data() + 20, 4);
    EXPECT_EQ(vocab, tied ? 32 : -32);
    EXPECT_EQ(get_f32(raw, 28), original->tok_embeddings[0]);
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, RoundTrip,
                         ::testing::Combine(::testing::Values(Llama2cFormat::Legacy, Llama2cFormat::V1),
                                            ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == Llama2cFormat::V1 ? "V1" : "Legacy") +
                                  (std::get<1>(info.param) ? "Tied" : "Untied");
                         });

TEST(Llama2c, StoriesConvertsToV1AndBack) {
  auto stories = load_llama2c(test::stories_model());
  const std::string dir = test::temp_dir("l2c-stories");
  write_llama2c(*stories, dir + "/v1.bin", Llama2cFormat::V1);
  auto v1 = load_llama2c(dir + "/v1.bin");
  test::expect_weights_eq(*stories, *v1);
  write_llama2c(*v1, dir + "/legacy.bin", Llama2cFormat::Legacy);
  // The legacy rewrite differs from the original only in the (unused) RoPE tables.
  const std::string a = read_all(test::stories_model()), b = read_all(dir + "/legacy.bin");
  ASSERT_EQ(a.size(), b.size());
  const size_t freq_begin = a.size() - 2 * 512 * 4 * 4;
  EXPECT_EQ(a.substr(0, freq_begin), b.substr(0, freq_begin));
  for (size_t i = freq_begin; i < a.size(); i += 4) ASSERT_NEAR(get_f32(a, i), get_f32(b, i), 2e-4) << "offset " << i;
}

TEST(Llama2c, HalfSplitWeightsArePermutedBackToInterleaved) {
  ModelConfig c = test::tiny_config();
  c.rope_style = RopeStyle::HalfSplit;
  auto hf = test::random_weights(c, 3);
  const std::string path = test::temp_dir("l2c-hs") + "/m.bin";
  write_llama2c(*hf, path, Llama2cFormat::V1);
  auto loaded = load_llama2c(path);
  EXPECT_EQ(loaded->config.rope_style, RopeStyle::Interleaved);
  for (int l = 0; l < c.n_layers; ++l) {
    for (LinearKind kind : {LinearKind::Q, LinearKind::K}) {
      const MatrixView& m = loaded->layers[l].w(kind);
      std::vector<float> back(size_t(m.numel()));
      permute_interleaved_to_halfsplit(m.data, back.data(), kind == LinearKind::Q ? c.n_heads : c.n_kv_heads,
                                       c.head_dim, m.cols);
      for (size_t i = 0; i < back.size(); ++i) ASSERT_EQ(back[i], hf->layers[l].w(kind).data[i]);
    }
    EXPECT_EQ(std::memcmp(loaded->layers[l].w(LinearKind::V).data, hf->layers[l].w(LinearKind::V).data,
                          size_t(c.kv_dim()) * c.dim * 4),
              0);
  }
}

TEST(Llama2c, WriterRefusesWhatTheFormatCannotHold) {
  const std::string path = test::temp_dir("l2c-refuse") + "/m.bin";
  ModelConfig c = test::tiny_config();
  c.qkv_bias = true;
  EXPECT_BINQ_ERROR(write_llama2c(*test::random_weights(c, 1), path, Llama2cFormat::V1), "biases");
  c = test::tiny_config();
  c.rope_theta = 500000.0f;
  EXPECT_BINQ_ERROR(write_llama2c(*test::random_weights(c, 1), path, Llama2cFormat::Legacy), "rope_theta");
  c = test::tiny_config();
  c.norm_eps = 1e-6f;
  EXPECT_BINQ_ERROR(write_llama2c(*test::random_weights(c, 1), path, Llama2cFormat::Legacy), "eps");
  auto w = test::random_weights(test::tiny_config(), 1);
  w->layers[1].linear[int(LinearKind::Up)].data = nullptr;  // as if quantized
  EXPECT_BINQ_ERROR(write_llama2c(*w, path, Llama2cFormat::V1), "up_proj");
  EXPECT_FALSE(std::ifstream(path).good()) << "nothing may be written on failure";
}

// ---- refusals -------------------------------------------------------------------------------

class Llama2cErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir("l2c-err");
    auto w = test::random_weights(test::tiny_config(/*tied=*/true), 11);
    write_llama2c(*w, dir_ + "/legacy.bin", Llama2cFormat::Legacy);
    write_llama2c(*w, dir_ + "/v1.bin", Llama2cFormat::V1);
    legacy_ = read_all(dir_ + "/legacy.bin");
    v1_ = read_all(dir_ + "/v1.bin");
  }
  std::string write(const std::string& bytes) {
    const std::string p = dir_ + "/case" + std::to_string(n_++) + ".bin";
    test::write_bytes(p, bytes);
    return p;
  }
  std::string dir_, legacy_, v1_;
  int n_ = 0;
};

TEST_F(Llama2cErrors, TruncatedFiles) {
  EXPECT_BINQ_ERROR(load_llama2c(write(legacy_.substr(0, legacy_.size() - 4))), "truncated");
  EXPECT_BINQ_ERROR(load_llama2c(write(v1_.substr(0, v1_.size() - 1))), "truncated");
  EXPECT_BINQ_ERROR(load_llama2c(write(legacy_.substr(0, 20))), "header");
  EXPECT_BINQ_ERROR(load_llama2c(write(v1_.substr(0, 100))), "v1 header");
  EXPECT_BINQ_ERROR(load_llama2c(write("")), "header");
}

TEST_F(Llama2cErrors, TrailingBytes) {
  EXPECT_BINQ_ERROR(load_llama2c(write(legacy_ + std::string(8, '\0'))), "trailing");
}

TEST_F(Llama2cErrors, VersionsAndMagic) {
  std::string b = v1_;
  put_i32(b, 4, 3);
  EXPECT_BINQ_ERROR(load_llama2c(write(b)), "version 3");
  put_i32(b, 4, 2);
  EXPECT_BINQ_ERROR(load_llama2c(write(b)), "version 2");
  b = v1_;
  b[36] = 5;
  EXPECT_BINQ_ERROR(load_llama2c(write(b)), "shared_classifier");
  b = v1_;
  put_i32(b, 8 + 5 * 4, -32);
  EXPECT_BINQ_ERROR(load_llama2c(write(b)), "vocab_size");
  // A wrong magic makes the file read as legacy, whose header then cannot match.
  b = v1_;
  b[0] = 'x';
  EXPECT_ANY_THROW(load_llama2c(write(b)));
  EXPECT_BINQ_ERROR(load_llama2c(write(b)), "out of range");
}

TEST_F(Llama2cErrors, HeadersThatLie) {
  const char* names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
  for (int field = 0; field < 7; ++field) {
    for (int32_t v : {0, -7, INT_MAX, INT_MIN}) {
      if (field == 5 && v == -7) continue;  // negative vocab is the legacy "unshared" flag
      std::string b = legacy_;
      put_i32(b, 4 * size_t(field), v);
      EXPECT_BINQ_ERROR(load_llama2c(write(b)), names[field]);
    }
  }
  // Plausible but wrong sizes: the byte count cannot match.
  std::string b = legacy_;
  put_i32(b, 8, 3);  // n_layers 2 -> 3
  EXPECT_BINQ_ERROR(load_llama2c(write(b)), "implies");
  b = legacy_;
  put_i32(b, 20, -32);  // claims a separate classifier that is not there
  EXPECT_BINQ_ERROR(load_llama2c(write(b)), "truncated");
  b = legacy_;
  put_i32(b, 12, 3);  // 16 is not a multiple of 3 heads
  EXPECT_BINQ_ERROR(load_llama2c(write(b)), "n_heads");
  b = legacy_;
  put_i32(b, 16, 3);  // 4 heads not a multiple of 3 kv heads
  EXPECT_BINQ_ERROR(load_llama2c(write(b)), "n_kv_heads");
}

TEST_F(Llama2cErrors, NonFiniteWeightsAreRefusedByName) {
  // Legacy layout: tok_emb [32x16], rms_att [2x16], wq [2x16x16], wk [2x8x16]; poison wk of layer 1.
  const size_t wk1 = 28 + 4 * (32 * 16 + 2 * 16 + 2 * 16 * 16 + 8 * 16);
  std::string b = legacy_;
  put_f32(b, wk1 + 4 * 5, std::numeric_limits<float>::quiet_NaN());
  EXPECT_BINQ_ERROR(load_llama2c(write(b)), "layers.1.k_proj");
  // Tied legacy files end with rms_final [16], freq_cis_real [16 x 2], freq_cis_imag [16 x 2].
  b = legacy_;
  put_f32(b, b.size() - 4 * (16 + 2 * 32) + 8, std::numeric_limits<float>::infinity());
  EXPECT_BINQ_ERROR(load_checkpoint(write(b)), "final_norm");
  // The RoPE tables are not used, so a NaN there is harmless.
  b = legacy_;
  put_f32(b, b.size() - 4, std::numeric_limits<float>::quiet_NaN());
  EXPECT_NO_THROW(load_llama2c(write(b)));
}

TEST(Checkpoint, DispatchesOnPathKind) {
  auto w = load_checkpoint(test::stories_model());
  EXPECT_EQ(w->config.dim, 64);
  EXPECT_BINQ_ERROR(load_checkpoint(test::temp_dir("empty") + "/nope.bin"), "not found");
  EXPECT_BINQ_ERROR(load_checkpoint(test::temp_dir("empty")), "config.json");
}

}  // namespace
}  // namespace binq
