// binq synth: writes a random-weight model of a real shape as a Hugging Face folder, for speed
// and memory measurements (never for accuracy).
#include <cstdio>

#include "binq/core/error.h"
#include "binq/io/safetensors_writer.h"
#include "binq/kernels/synthetic_layer.h"
#include "binq/quant/quantized_model.h"
#include "binq/model/synthetic.h"
#include "cli/command.h"

namespace binq::cli {
namespace {

struct SynthCmd {
  std::string shape = "tinyllama-1.1b", out, dtype = "f16", tokenizer;
  uint64_t seed = 1;
  bool binq = false;
  int block = 128, outliers = 128;
  int layers = 0;  // 0 = the shape's own

  ModelConfig config() const {
    ModelConfig c = synthetic_config(shape);
    if (layers < 0) fail("--layers must be positive (got {})", layers);
    if (layers > 0) c.n_layers = layers;
    return c;
  }
};

// A .binq with random W(1+1) layers of the real shapes: what the bitwise runtime reads, for
// `binq bench` and memory measurements without quantizing a large model first.
void write_random_binq(const SynthCmd& o) {
  QuantizedModel m;
  m.base = make_synthetic_weights(o.config(), o.seed, /*linears=*/false);
  const ModelConfig& c = m.base->config;
  m.activations.config.balance = Balance::Paper;
  m.recipe = {{"method", "synthetic-random"}, {"block", o.block}, {"outliers", o.outliers}, {"seed", o.seed}};
  m.tokenizer_path = o.tokenizer;
  uint64_t seed = o.seed * 7919;
  m.linears.resize(size_t(c.n_layers) * kLinearKinds);
  for (int l = 0; l < c.n_layers; ++l)
    for (const auto& group : linear_groups()) {
      // The quantizer gives the linears reading one activation (q/k/v, gate/up) one channel
      // order, and the runtime quantizes that activation once for all of them: do the same.
      std::vector<int32_t> perm;
      for (LinearKind kind : group) {
        const MatrixView& w = m.base->layers[l].linear[int(kind)];
        BinaryLinearParams p = random_binary_layer(w.rows, w.cols, std::min(o.outliers, w.cols), o.block, seed++);
        if (perm.empty()) perm = p.perm;
        p.perm = perm;
        m.linears[size_t(l) * kLinearKinds + int(kind)].binary = CompactBinaryLinear(p);
      }
    }
  write_binq(m, o.out);
  std::printf("wrote %s: %s, random W(1+1) B=%d K=%d (speed tests only)\n", o.out.c_str(), c.summary().c_str(),
              o.block, o.outliers);
}

void run(const SynthCmd& o) {
  if (o.binq) return write_random_binq(o);
  HfWriteOptions opt;
  if (o.dtype == "f32") opt.dtype = TensorDType::F32;
  else if (o.dtype == "f16") opt.dtype = TensorDType::F16;
  else if (o.dtype == "bf16") opt.dtype = TensorDType::BF16;
  else fail("--dtype: expected f32, f16 or bf16 (got '{}')", o.dtype);
  auto weights = make_synthetic_weights(o.config(), o.seed);
  write_hf_directory(*weights, o.out, opt);
  std::printf("wrote %s: %s, %.3f B parameters, %s\n", o.out.c_str(), weights->config.summary().c_str(),
              weights->parameter_count() / 1e9, dtype_name(opt.dtype));
}

void setup(CLI::App& app) {
  auto o = std::make_shared<SynthCmd>();
  CLI::App* cmd = app.add_subcommand("synth", "write a random-weight model of a known shape (HF folder)");
  cmd->add_option("--shape", o->shape, "tinyllama-1.1b | llama-7b | llama2-7b | stories260k-shape | tiny")->capture_default_str();
  cmd->add_option("-o,--out", o->out, "output folder (or .binq file with --binq)")->required();
  cmd->add_option("--layers", o->layers, "number of decoder blocks (default: the shape's; fewer for per-block memory scaling)");
  cmd->add_option("--dtype", o->dtype, "f32 | f16 | bf16")->capture_default_str();
  cmd->add_option("--seed", o->seed, "random seed")->capture_default_str();
  cmd->add_flag("--binq", o->binq, "write a .binq file with random W(1+1)A(1x4) layers instead of an HF folder");
  cmd->add_option("--group", o->block, "--binq: block size B")->capture_default_str();
  cmd->add_option("--outliers", o->outliers, "--binq: INT8 outlier channels K")->capture_default_str();
  cmd->add_option("--tokenizer", o->tokenizer, "--binq: tokenizer file to embed");
  cmd->callback([o] { run(*o); });
}

Registrar reg("synth", setup);

}  // namespace
}  // namespace binq::cli
