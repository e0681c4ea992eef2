// binq generate: text generation with a KV cache; prints tokens/s of prefill and decode.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>

#include "binq/core/error.h"
#include "binq/model/sampler.h"
#include "cli/model_loading.h"

namespace binq::cli {
namespace {

struct GenerateOptions {
  ModelOptions model;
  std::string prompt;
  int steps = 256;
  float temperature = 0.8f;
  float top_p = 0.9f;
  int64_t seed = -1;
  bool ignore_eos = false;
  bool print_ids = false;
};

void run_generate(const GenerateOptions& o) {
  set_threads(o.model.threads);
  LoadedModel lm = o.model.open();
  const LlamaModel& model = *lm.model;
  const Tokenizer& tok = *lm.tokenizer;
  const int vocab = model.config().vocab_size;
  if (o.steps < 0) fail("-n must be >= 0 (got {})", o.steps);

  std::vector<int> tokens = tok.encode(o.prompt, /*add_bos=*/true);
  const int capacity = model.config().max_seq_len;
  if (int(tokens.size()) >= capacity)
    fail("prompt is {} tokens but the model context is {}", tokens.size(), capacity);
  uint64_t seed = o.seed >= 0 ? uint64_t(o.seed) : std::random_device{}();
  Sampler sampler(o.temperature, o.top_p, seed);
  KVCache cache = model.new_cache(capacity);
  std::vector<float> logits(vocab);

  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  model.forward(tokens.data(), int(tokens.size()), 0, cache, logits.data(), /*all_logits=*/false);
  auto t1 = clock::now();
  std::fputs(tok.decode_token(-1, tokens[0]).c_str(), stdout);
  for (size_t i = 1; i < tokens.size(); ++i) std::fputs(tok.decode_token(tokens[i - 1], tokens[i]).c_str(), stdout);

  int generated = 0;
  std::vector<int> out_ids;
  while (generated < o.steps && int(tokens.size()) < capacity) {
    int next = sampler.sample(logits.data(), vocab);
    if (!o.ignore_eos && (next == tok.eos_id() || next == tok.bos_id())) break;
    std::fputs(tok.decode_token(tokens.back(), next).c_str(), stdout);
    std::fflush(stdout);
    tokens.push_back(next);
    out_ids.push_back(next);
    ++generated;
    if (generated < o.steps && int(tokens.size()) < capacity)
      model.forward(&tokens.back(), 1, int(tokens.size()) - 1, cache, logits.data(), false);
  }
  auto t2 = clock::now();
  std::fputs("\n", stdout);
  if (o.print_ids) {
    std::string ids;
    for (int id : out_ids) ids += std::to_string(id) + " ";
    std::printf("ids: %s\n", ids.c_str());
  }
  double prefill_s = std::chrono::duration<double>(t1 - t0).count();
  double decode_s = std::chrono::duration<double>(t2 - t1).count();
  std::fprintf(stderr, "binq: %s\nbinq: seed %llu; prompt %zu tokens in %.3f s (%.1f tok/s); generated %d tokens in %.3f s (%.1f tok/s)\n",
               lm.description.c_str(), (unsigned long long)seed, tokens.size() - generated, prefill_s,
               (tokens.size() - generated) / prefill_s, generated, decode_s, generated > 0 ? generated / decode_s : 0.0);
}

void setup(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "generate text from a prompt");
  o->model.add_to(cmd);
  cmd->add_option("-p,--prompt", o->prompt, "prompt text (default: empty, start from BOS)");
  cmd->add_option("-n,--steps", o->steps, "tokens to generate")->capture_default_str();
  cmd->add_option("--temp", o->temperature, "temperature; 0 = greedy")->capture_default_str();
  cmd->add_option("--top-p", o->top_p, "nucleus sampling mass")->capture_default_str();
  cmd->add_option("--seed", o->seed, "random seed (default: random, printed)");
  cmd->add_flag("--ignore-eos", o->ignore_eos, "keep generating after EOS/BOS");
  cmd->add_flag("--print-ids", o->print_ids, "also print the generated token ids");
  cmd->callback([o] { run_generate(*o); });
}

Registrar reg("generate", setup);

}  // namespace
}  // namespace binq::cli
