// binq synth: writes a random-weight model of a real shape as a Hugging Face folder, for speed
// and memory measurements (never for accuracy).
#include <cstdio>

#include "binq/core/error.h"
#include "binq/io/safetensors_writer.h"
#include "binq/model/synthetic.h"
#include "cli/command.h"

namespace binq::cli {
namespace {

struct SynthCmd {
  std::string shape = "tinyllama-1.1b", out, dtype = "f16";
  uint64_t seed = 1;
};

void run(const SynthCmd& o) {
  HfWriteOptions opt;
  if (o.dtype == "f32") opt.dtype = TensorDType::F32;
  else if (o.dtype == "f16") opt.dtype = TensorDType::F16;
  else if (o.dtype == "bf16") opt.dtype = TensorDType::BF16;
  else fail("--dtype: expected f32, f16 or bf16 (got '{}')", o.dtype);
  auto weights = make_synthetic_weights(synthetic_config(o.shape), o.seed);
  write_hf_directory(*weights, o.out, opt);
  std::printf("wrote %s: %s, %.3f B parameters, %s\n", o.out.c_str(), weights->config.summary().c_str(),
              weights->parameter_count() / 1e9, dtype_name(opt.dtype));
}

void setup(CLI::App& app) {
  auto o = std::make_shared<SynthCmd>();
  CLI::App* cmd = app.add_subcommand("synth", "write a random-weight model of a known shape (HF folder)");
  cmd->add_option("--shape", o->shape, "tinyllama-1.1b | llama-7b | llama2-7b | stories260k-shape | tiny")->capture_default_str();
  cmd->add_option("-o,--out", o->out, "output folder")->required();
  cmd->add_option("--dtype", o->dtype, "f32 | f16 | bf16")->capture_default_str();
  cmd->add_option("--seed", o->seed, "random seed")->capture_default_str();
  cmd->callback([o] { run(*o); });
}

Registrar reg("synth", setup);

}  // namespace
}  // namespace binq::cli
