// Hugging Face folders: config.json parsing, write -> load round trips, and refusals.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <set>
#include <limits>
#include <nlohmann/json.hpp>

#include "binq/core/half.h"
#include "binq/core/mapped_file.h"
#include "binq/io/checkpoint.h"
#include "binq/io/hf_config.h"
#include "binq/io/rope_permute.h"
#include "binq/io/safetensors.h"
#include "binq/io/safetensors_writer.h"
#include "common/test_util.h"
#include "io_fixtures.h"

namespace binq {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// What load_hf_directory must return for `w` written by write_hf_directory: the same tensors,
// except that interleaved q/k rows (and q/k biases) come back in half-split order.
std::shared_ptr<ModelWeights> as_half_split(const ModelWeights& w) {
  auto e = std::make_shared<ModelWeights>(w);
  e->config.rope_style = RopeStyle::HalfSplit;
  if (w.config.rope_style == RopeStyle::HalfSplit) return e;
  const ModelConfig& c = w.config;
  auto permuted = [&](const float* src, int heads, int cols) {
    float* dst = e->allocate(size_t(heads) * c.head_dim * cols);
    permute_interleaved_to_halfsplit(src, dst, heads, c.head_dim, cols);
    return dst;
  };
  for (LayerWeights& L : e->layers) {
    L.linear[int(LinearKind::Q)].data = permuted(L.linear[int(LinearKind::Q)].data, c.n_heads, c.dim);
    L.linear[int(LinearKind::K)].data = permuted(L.linear[int(LinearKind::K)].data, c.n_kv_heads, c.dim);
    if (c.qkv_bias) {
      L.q_bias = permuted(L.q_bias, c.n_heads, 1);
      L.k_bias = permuted(L.k_bias, c.n_kv_heads, 1);
    }
  }
  return e;
}

test::Rounding rounding_of(TensorDType d) {
  if (d == TensorDType::F16) return [](float x) { return round_to_fp16(x); };
  if (d == TensorDType::BF16) return [](float x) { return bf16_to_float(float_to_bf16(x)); };
  return test::exact;
}

struct HfRoundTrip : ::testing::TestWithParam<std::tuple<TensorDType, bool>> {};

TEST_P(HfRoundTrip, WriteThenLoadGivesTheSameTensors) {
  auto [dtype, sharded] = GetParam();
  auto original = test::random_weights(test::tiny_config(), 21);
  const std::string dir = test::temp_dir("hf-rt");
  HfWriteOptions opt;
  opt.dtype = dtype;
  opt.max_shard_bytes = sharded ? 4096 : 0;
  write_hf_directory(*original, dir, opt);
  EXPECT_EQ(fs::exists(dir + "/model.safetensors.index.json"), sharded);
  EXPECT_EQ(fs::exists(dir + "/model.safetensors"), !sharded);

  auto loaded = load_hf_directory(dir);
  ModelConfig expected_config = original->config;
  expected_config.rope_style = RopeStyle::HalfSplit;
  test::expect_config_eq(expected_config, loaded->config);
  EXPECT_EQ(loaded->config.rope_style, RopeStyle::HalfSplit);
  EXPECT_EQ(loaded->config.arch, "llama");
  test::expect_weights_eq(*as_half_split(*original), *loaded, rounding_of(dtype));

  if (sharded) {
    json index = json::parse(read_text_file(dir + "/model.safetensors.index.json"));
    std::set<std::string> shards;
    for (auto& [name, file] : index["weight_map"].items()) shards.insert(file.get<std::string>());
    EXPECT_GT(shards.size(), 2u);
    EXPECT_EQ(index["weight_map"].size(), 1u + 2u * 9u + 2u);  // embed, 2 x (2 norms + 7), norm, lm_head
    for (const auto& s : shards) EXPECT_TRUE(fs::exists(dir + "/" + s)) << s;
  }
  // F32 tensors are used in place: nothing but the mapped file(s) is kept alive.
  if (dtype == TensorDType::F32 && !sharded) {
    EXPECT_EQ(loaded->keep_alive.size(), 1u);
  } else if (dtype != TensorDType::F32) {
    EXPECT_GT(loaded->keep_alive.size(), 1u);
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, HfRoundTrip,
                         ::testing::Combine(::testing::Values(TensorDType::F32, TensorDType::F16, TensorDType::BF16),
                                            ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(dtype_name(std::get<0>(info.param))) +
                                  (std::get<1>(info.param) ? "Sharded" : "Single");
                         });

TEST(HfLoader, TiedQwen2WithBiasesAndHalfSplitSource) {
  ModelConfig c = test::tiny_config(/*tied=*/true);
  c.arch = "qwen2";
  c.qkv_bias = true;
  c.rope_theta = 1000000.0f;
  c.norm_eps = 1e-6f;
  c.bos_id = 5;
  c.eos_id = 7;
  for (RopeStyle style : {RopeStyle::Interleaved, RopeStyle::HalfSplit}) {
    c.rope_style = style;
    auto original = test::random_weights(c, 4);
    const std::string dir = test::temp_dir("hf-qwen");
    write_hf_directory(*original, dir);
    auto loaded = load_checkpoint(dir);
    EXPECT_EQ(loaded->config.arch, "qwen2");
    EXPECT_TRUE(loaded->config.qkv_bias);
    EXPECT_EQ(loaded->output.data, loaded->tok_embeddings);
    ModelConfig expected = c;
    expected.rope_style = RopeStyle::HalfSplit;
    test::expect_config_eq(expected, loaded->config);
    test::expect_weights_eq(*as_half_split(*original), *loaded);
    EXPECT_FALSE(SafetensorsFile::open(dir + "/model.safetensors")->find("lm_head.weight"));
  }
}

TEST(HfLoader, StoriesWeightsRoundTripWithPermutedQK) {
  auto stories = load_llama2c(test::stories_model());
  const std::string dir = test::temp_dir("hf-stories");
  write_hf_directory(*stories, dir);
  auto loaded = load_hf_directory(dir);
  test::expect_weights_eq(*as_half_split(*stories), *loaded);
  // And the q rows really moved (guards against as_half_split and the writer both being no-ops).
  EXPECT_NE(std::memcmp(loaded->layers[0].w(LinearKind::Q).data, stories->layers[0].w(LinearKind::Q).data, 64 * 64 * 4),
            0);
}

// ---- config.json ------------------------------------------------------------------------------

TEST(HfConfig, ParsesARealisticLlama3Config) {
  const std::string text = R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
    "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
    "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "tie_word_embeddings": false,
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
    "attention_bias": false, "mlp_bias": false, "torch_dtype": "bfloat16",
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"}})";
  ModelConfig c = parse_hf_config(text, "config.json");
  EXPECT_EQ(c.arch, "llama");
  EXPECT_EQ(c.dim, 4096);
  EXPECT_EQ(c.hidden_dim, 14336);
  EXPECT_EQ(c.n_kv_heads, 8);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.vocab_size, 128256);
  EXPECT_EQ(c.max_seq_len, 131072);
  EXPECT_EQ(c.norm_eps, 1e-5f);
  EXPECT_EQ(c.rope_theta, 500000.0f);
  EXPECT_EQ(c.bos_id, 128000);
  EXPECT_EQ(c.eos_id, 128001);
  EXPECT_EQ(c.rope_style, RopeStyle::HalfSplit);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_EQ(c.rope_scaling.factor, 8.0f);
  EXPECT_EQ(c.rope_scaling.high_freq_factor, 4.0f);
  EXPECT_EQ(c.rope_scaling.original_max_position, 8192);
  // Written back and parsed again: the same config.
  ModelConfig again = parse_hf_config(hf_config_json(c, "float32"), "again");
  test::expect_config_eq(c, again);
  EXPECT_EQ(again.rope_scaling.low_freq_factor, c.rope_scaling.low_freq_factor);
  EXPECT_EQ(again.rope_scaling.original_max_position, 8192);
}

TEST(HfConfig, DefaultsAndVariants) {
  ModelConfig c = parse_hf_config(
      R"({"model_type":"mistral","hidden_size":64,"intermediate_size":96,"num_hidden_layers":2,
          "num_attention_heads":4,"num_key_value_heads":null,"head_dim":32,"vocab_size":100,
          "sliding_window":1024,"max_position_embeddings":32768,
          "rope_scaling":{"type":"linear","factor":2}})",
      "m.json");
  EXPECT_EQ(c.arch, "mistral");
  EXPECT_EQ(c.n_kv_heads, 4);          // null -> num_attention_heads
  EXPECT_EQ(c.head_dim, 32);           // explicit head_dim wins over hidden/heads
  EXPECT_EQ(c.q_dim(), 128);
  EXPECT_EQ(c.max_seq_len, 1024);      // clamped to the sliding window
  EXPECT_EQ(c.norm_eps, 1e-6f);        // transformers' default
  EXPECT_EQ(c.rope_scaling.type, "linear");
  EXPECT_EQ(c.rope_scaling.factor, 2.0f);
  c = parse_hf_config(
      R"({"architectures":["Qwen2ForCausalLM"],"hidden_size":64,"intermediate_size":96,"num_hidden_layers":2,
          "num_attention_heads":4,"num_key_value_heads":2,"vocab_size":100,"bos_token_id":null,
          "eos_token_id":3,"rope_scaling":{"rope_type":"dynamic","factor":4.0},"max_position_embeddings":512})",
      "q.json");
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_EQ(c.bos_id, 1);
  EXPECT_EQ(c.eos_id, 3);
  EXPECT_EQ(c.rope_scaling.type, "dynamic");
  EXPECT_EQ(c.rope_scaling.original_max_position, 512);
}

TEST(HfConfig, Refusals) {
  const json base = json::parse(R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":96,
      "num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100})");
  EXPECT_NO_THROW(parse_hf_config(base.dump(), "c.json"));
  auto with = [&](const std::string& key, const json& value) {
    json j = base;
    if (value.is_discarded())
      j.erase(key);
    else
      j[key] = value;
    return j.dump();
  };
  const json erase = json(json::value_t::discarded);
  EXPECT_BINQ_ERROR(parse_hf_config(with("hidden_size", erase), "c.json"), "hidden_size");
  EXPECT_BINQ_ERROR(parse_hf_config(with("hidden_size", "64"), "c.json"), "must be an integer");
  EXPECT_BINQ_ERROR(parse_hf_config(with("num_hidden_layers", -1), "c.json"), "num_hidden_layers");
  EXPECT_BINQ_ERROR(parse_hf_config(with("vocab_size", 1e30), "c.json"), "vocab_size");
  EXPECT_BINQ_ERROR(parse_hf_config(with("rms_norm_eps", "x"), "c.json"), "rms_norm_eps");
  EXPECT_BINQ_ERROR(parse_hf_config(with("rope_theta", 1e300), "c.json"), "rope_theta");
  EXPECT_BINQ_ERROR(parse_hf_config(with("tie_word_embeddings", 1), "c.json"), "tie_word_embeddings");
  EXPECT_BINQ_ERROR(parse_hf_config(with("architectures", json::array({"GPT2LMHeadModel"})), "c.json"),
                    "unsupported architecture 'GPT2LMHeadModel'");
  EXPECT_BINQ_ERROR(parse_hf_config(with("architectures", erase), "c.json"), "model_type");
  EXPECT_BINQ_ERROR(parse_hf_config(with("rope_scaling", json{{"rope_type", "yarn"}, {"factor", 4}}), "c.json"),
                    "yarn");
  EXPECT_BINQ_ERROR(parse_hf_config(with("rope_scaling", json{{"rope_type", "llama3"}, {"factor", 4}}), "c.json"),
                    "low_freq_factor");
  EXPECT_BINQ_ERROR(parse_hf_config(with("rope_scaling", json{{"type", "linear"}, {"factor", -1}}), "c.json"),
                    "factor");
  EXPECT_BINQ_ERROR(parse_hf_config(with("attention_bias", true), "c.json"), "attention_bias");
  EXPECT_BINQ_ERROR(parse_hf_config(with("hidden_act", "gelu"), "c.json"), "gelu");
  EXPECT_BINQ_ERROR(parse_hf_config(with("num_attention_heads", 5), "c.json"), "num_attention_heads");
  EXPECT_BINQ_ERROR(parse_hf_config(with("eos_token_id", 100), "c.json"), "eos");
  EXPECT_BINQ_ERROR(parse_hf_config("{\"hidden_size\": ", "c.json"), "not valid JSON");
}

// ---- folder-level refusals --------------------------------------------------------------------

// A valid tiny folder whose single safetensors file the tests rewrite with one thing changed.
class HfErrors : public ::testing::Test {
 protected:
  struct Owned {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> data;
    TensorDType dtype = TensorDType::F32;
  };
  void SetUp() override {
    tensors_.clear();
    write_hf_directory(*test::random_weights(test::tiny_config(), 9), dir_);
    auto f = SafetensorsFile::open(dir_ + "/model.safetensors");
    ModelWeights owner;
    for (const auto& [name, t] : f->tensors()) {
      const float* p = f->read_f32(t, owner);
      tensors_.push_back({name, t.shape, std::vector<float>(p, p + t.numel())});
    }
  }
  // Rewrites model.safetensors from `ts` (default: the unchanged tensors).
  void rewrite(const std::vector<Owned>& ts) {
    std::vector<TensorToWrite> out;
    for (const Owned& t : ts) out.push_back({t.name, t.dtype, t.shape, t.data.data()});
    write_safetensors(dir_ + "/model.safetensors", out);
  }
  Owned& tensor(const std::string& name) {
    for (Owned& t : tensors_)
      if (t.name == name) return t;
    throw std::runtime_error("test fixture has no tensor " + name);
  }
  std::string dir_ = test::temp_dir("hf-err");
  std::vector<Owned> tensors_;
};

TEST_F(HfErrors, MissingTensorIsNamed) {
  auto ts = tensors_;
  std::erase_if(ts, [](const Owned& t) { return t.name == "model.layers.1.mlp.up_proj.weight"; });
  rewrite(ts);
  EXPECT_BINQ_ERROR(load_hf_directory(dir_), "'model.layers.1.mlp.up_proj.weight' is missing");
}

TEST_F(HfErrors, UntiedModelNeedsLmHead) {
  auto ts = tensors_;
  std::erase_if(ts, [](const Owned& t) { return t.name == "lm_head.weight"; });
  rewrite(ts);
  EXPECT_BINQ_ERROR(load_hf_directory(dir_), "lm_head.weight");
}

TEST_F(HfErrors, MisShapedTensorIsNamedWithBothShapes) {
  Owned& k = tensor("model.layers.0.self_attn.k_proj.weight");
  k.shape = {16, 8};  // transposed [8, 16]
  rewrite(tensors_);
  EXPECT_BINQ_ERROR(load_hf_directory(dir_), "'model.layers.0.self_attn.k_proj.weight' has shape [16, 8], expected [8, 16]");
}

TEST_F(HfErrors, NonFiniteAndUnsupportedDtypes) {
  tensor("model.layers.1.self_attn.v_proj.weight").data[3] = std::numeric_limits<float>::quiet_NaN();
  rewrite(tensors_);
  EXPECT_BINQ_ERROR(load_hf_directory(dir_), "layers.1.v_proj");
  // Inf through an F16 tensor (65536 overflows half precision).
  SetUp();
  tensor("model.norm.weight").dtype = TensorDType::F16;
  tensor("model.norm.weight").data[0] = 70000.0f;
  rewrite(tensors_);
  EXPECT_BINQ_ERROR(load_checkpoint(dir_), "final_norm");
  // An integer tensor where a float one is needed.
  SetUp();
  const std::string path = dir_ + "/model.safetensors";
  std::string raw = read_text_file(path);
  // Same byte count (16 x F32 = 8 x I64) and same header length, so only the dtype is wrong.
  const std::string from = R"("dtype":"F32","shape":[16])", to = R"("dtype":"I64","shape":[ 8])";
  const size_t entry = raw.find(R"("model.norm.weight":{)");
  ASSERT_NE(entry, std::string::npos);
  const size_t at = raw.find(from, entry);
  ASSERT_NE(at, std::string::npos);
  raw.replace(at, from.size(), to);
  test::write_bytes(path, raw);
  EXPECT_BINQ_ERROR(load_hf_directory(dir_), "model.norm.weight");
}

TEST_F(HfErrors, BadFolders) {
  fs::remove(dir_ + "/model.safetensors");
  EXPECT_BINQ_ERROR(load_hf_directory(dir_), "neither model.safetensors nor");
  fs::remove(dir_ + "/config.json");
  EXPECT_BINQ_ERROR(load_hf_directory(dir_), "config.json");
  EXPECT_BINQ_ERROR(load_hf_directory(dir_ + "/nope"), "not a directory");
}

TEST(HfShards, IndexProblemsAreNamed) {
  const std::string dir = test::temp_dir("hf-idx");
  HfWriteOptions opt;
  opt.max_shard_bytes = 2048;
  write_hf_directory(*test::random_weights(test::tiny_config(), 13), dir, opt);
  const std::string index_path = dir + "/model.safetensors.index.json";
  const json index = json::parse(read_text_file(index_path));
  auto write_index = [&](const json& j) {
    const std::string text = j.dump();
    test::write_bytes(index_path, text);
  };
  ASSERT_NO_THROW(load_hf_directory(dir));

  json j = index;
  j["weight_map"].erase("model.norm.weight");
  write_index(j);
  EXPECT_BINQ_ERROR(load_hf_directory(dir), "'model.norm.weight' is missing");

  j = index;
  j["weight_map"]["model.norm.weight"] = "model-00099-of-00099.safetensors";
  write_index(j);
  EXPECT_BINQ_ERROR(load_hf_directory(dir), "model-00099-of-00099.safetensors");

  j = index;
  const std::string other = j["weight_map"]["model.embed_tokens.weight"];
  j["weight_map"]["model.norm.weight"] = other;  // a shard that does not hold it
  if (index["weight_map"]["model.norm.weight"] != other) {
    write_index(j);
    EXPECT_BINQ_ERROR(load_hf_directory(dir), "'model.norm.weight' is listed");
  }

  j = index;
  j["weight_map"]["model.norm.weight"] = "../elsewhere.safetensors";
  write_index(j);
  EXPECT_BINQ_ERROR(load_hf_directory(dir), "same folder");

  j = index;
  j["weight_map"] = json::array();
  write_index(j);
  EXPECT_BINQ_ERROR(load_hf_directory(dir), "weight_map");
  test::write_bytes(index_path, "{\"weight_map\": {");
  EXPECT_BINQ_ERROR(load_hf_directory(dir), "not valid JSON");
}

}  // namespace
}  // namespace binq
