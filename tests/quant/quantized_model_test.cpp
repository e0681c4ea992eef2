// The .binq model file and its two runtimes: write -> read is exact, bitwise == simulated,
// damage fails cleanly.
#include "binq/quant/quantized_model.h"

#include <gtest/gtest.h>

#include <random>

#include "binq/core/error.h"
#include "binq/core/mapped_file.h"
#include "binq/core/paths.h"
#include "binq/core/half.h"
#include "binq/eval/perplexity.h"
#include "binq/io/checkpoint.h"
#include "binq/kernels/dispatch.h"
#include "binq/quant/gptq.h"
#include "binq/quant/hessian.h"
#include "binq/tokenizer/tokenizer.h"
#include "common/isa_test.h"
#include "common/test_util.h"

namespace binq {
namespace {

// stories260K with every linear quantized to W(1+1) from a random-input Hessian: enough to
// exercise the file and the runtimes (accuracy is the pipeline's business, not this test's).
QuantizedModel quantize_stories(int block, int outliers) {
  QuantizedModel m;
  m.base = load_llama2c(test::stories_model());
  const ModelConfig& c = m.base->config;
  m.activations.config.balance = Balance::Paper;
  m.activations.kv_bits = 4;
  m.recipe = {{"method", "bwa-test"}};
  m.tokenizer_path = test::stories_tokenizer();
  std::mt19937 rng(5);
  std::normal_distribution<float> g;
  for (int l = 0; l < c.n_layers; ++l)
    for (int k = 0; k < kLinearKinds; ++k) {
      const MatrixView& w = m.base->layers[l].linear[k];
      HessianAccumulator acc(w.cols);
      std::vector<float> x(size_t(256) * w.cols);
      for (size_t i = 0; i < x.size(); ++i) x[i] = g(rng) * (1.0f + float(i % w.cols) / w.cols * 4);
      acc.add(x.data(), 256);
      BinaryQuantConfig cfg;
      cfg.block_size = block;
      cfg.n_outliers = outliers;
      QuantizedLinear q;
      q.binary = CompactBinaryLinear(quantize_binary_linear(w.data, w.rows, w.cols, acc.finalize(), {}, cfg, "test"));
      m.linears.push_back(std::move(q));
    }
  return m;
}

std::vector<float> logits_of(const LlamaModel& model, const std::vector<int>& tokens) {
  std::vector<float> out(tokens.size() * model.config().vocab_size);
  KVCache cache = model.new_cache(int(tokens.size()));
  model.forward(tokens.data(), int(tokens.size()), 0, cache, out.data(), true);
  return out;
}

TEST(QuantizedModel, WriteThenLoadGivesTheSameModel) {
  QuantizedModel m = quantize_stories(64, 8);
  const std::string path = test::temp_dir("qm") + "/m.binq";
  write_binq(m, path);
  LoadedBinq loaded = load_binq(path, BinqRuntime::Simulated);
  EXPECT_EQ(loaded.tokenizer_bytes, read_text_file(test::stories_tokenizer()));
  EXPECT_EQ(loaded.model->kv_bits(), 4);

  // The same model assembled in memory (FP parts rounded to FP16 as the file stores them).
  auto w = std::make_shared<ModelWeights>(*m.base);
  const ModelConfig& c = w->config;
  auto round = [&](const float* src, size_t n) {
    float* dst = w->allocate(n);
    for (size_t i = 0; i < n; ++i) dst[i] = round_to_fp16(src[i]);
    return dst;
  };
  w->tok_embeddings = round(m.base->tok_embeddings, size_t(c.vocab_size) * c.dim);
  w->output.data = w->tok_embeddings;
  w->final_norm = round(m.base->final_norm, c.dim);
  for (auto& L : w->layers) {
    L.attn_norm = round(L.attn_norm, c.dim);
    L.ffn_norm = round(L.ffn_norm, c.dim);
  }
  LlamaModel direct(w);
  direct.set_kv_bits(4);
  std::vector<uint16_t> head(size_t(c.vocab_size) * c.dim);  // the file keeps the head in FP16
  for (size_t i = 0; i < head.size(); ++i) head[i] = float_to_fp16(m.base->tok_embeddings[i]);
  direct.set_head(std::make_shared<Fp16Linear>(std::move(head), c.vocab_size, c.dim));
  for (int l = 0; l < c.n_layers; ++l)
    for (int k = 0; k < kLinearKinds; ++k)
      direct.set_linear({l, LinearKind(k)}, make_quantized_linear(m.linears[size_t(l) * kLinearKinds + k],
                                                                  m.activations, BinqRuntime::Simulated));
  std::vector<int> tokens = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376};
  EXPECT_EQ(logits_of(*loaded.model, tokens), logits_of(direct, tokens));  // bit-identical
}

// The core correctness claim of the runtime: the AND/popcount path computes what the simulated
// path computes, on every ISA (one test case each, as ctest runs it: one process per case).
class QuantizedModelIsa : public test::IsaTest {
 protected:
  static const std::string& model_path() {
    static const std::string path = [] {
      const std::string p = test::temp_dir("qm") + "/m.binq";
      write_binq(quantize_stories(64, 8), p);
      return p;
    }();
    return path;
  }
};
BINQ_INSTANTIATE_PER_ISA(QuantizedModelIsa);

TEST_P(QuantizedModelIsa, BitwisePerplexityEqualsSimulated) {
  const std::string& path = model_path();
  std::string text = read_text_file(test::shared("data/tinystories/tinystories_val.txt")).substr(0, 8000);
  std::vector<int> tokens = load_tokenizer(test::stories_tokenizer(), 512)->encode(text, true);
  PerplexityOptions opt;
  opt.ctx = 256;
  // Attention over the INT4 KV cache runs on the same ISA in both runs; what differs is only
  // how the linear layers compute.
  force_isa(GetParam());
  LoadedBinq sim = load_binq(path, BinqRuntime::Simulated);
  const double ref = compute_perplexity(*sim.model, tokens, opt, 1).ppl;
  LoadedBinq bit = load_binq(path, BinqRuntime::Bitwise);
  EXPECT_NE(bit.model->linear({0, LinearKind::Q}).describe().find("bitwise"), std::string::npos);
  const double ppl = compute_perplexity(*bit.model, tokens, opt, 1).ppl;
  EXPECT_NEAR(ppl / ref, 1.0, 1e-4) << "bitwise " << ppl << " simulated " << ref;
}

TEST(QuantizedModel, DamagedFilesFailCleanly) {
  QuantizedModel m = quantize_stories(64, 0);
  const std::string dir = test::temp_dir("qmbad");
  write_binq(m, dir + "/m.binq");
  std::string bytes = read_text_file(dir + "/m.binq");
  std::mt19937 rng(9);
  for (int i = 0; i < 60; ++i) {
    std::string bad = bytes;
    if (i % 3 == 0) {
      bad.resize(rng() % bytes.size());
    } else {
      size_t at = rng() % bad.size();
      bad[at] = char(bad[at] ^ (1 + rng() % 255));
    }
    test::write_bytes(dir + "/bad.binq", bad);
    try {
      load_binq(dir + "/bad.binq", BinqRuntime::Bitwise);
    } catch (const Error&) {
    }
  }
  // Refuses a model whose linears are missing.
  m.linears.pop_back();
  EXPECT_THROW(write_binq(m, dir + "/short.binq"), Error);
  EXPECT_FALSE(path_exists(dir + "/short.binq"));
}

}  // namespace
}  // namespace binq
