// binq bench: llama-bench style throughput of prefill (pp) and decode (tg), mean +/- stddev over
// repetitions, as markdown, CSV or JSON. Works on checkpoints, .binq files and synthetic shapes.
#include <omp.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "binq/core/error.h"
#include "binq/model/synthetic.h"
#include "cli/model_loading.h"

namespace binq::cli {
namespace {

struct BenchCmd {
  ModelOptions model;
  std::string synth;
  std::vector<int> prompt = {512};
  std::vector<int> gen = {128};
  std::vector<int> threads;
  int reps = 5;
  std::string output = "md";
};

struct Row {
  std::string test;
  int threads = 0;
  std::vector<double> tps;  // tokens/s per repetition
  double mean() const {
    double s = 0;
    for (double v : tps) s += v;
    return s / tps.size();
  }
  double stddev() const {
    if (tps.size() < 2) return 0;
    double m = mean(), s = 0;
    for (double v : tps) s += (v - m) * (v - m);
    return std::sqrt(s / (tps.size() - 1));
  }
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

void run(const BenchCmd& o) {
  if (o.synth.empty() == o.model.model.empty()) fail("give exactly one of --model or --synth");
  if (o.reps < 1) fail("-r must be >= 1 (got {})", o.reps);
  std::shared_ptr<LlamaModel> model;
  std::string name;
  int64_t size_bytes = 0;
  if (!o.synth.empty()) {
    auto w = make_synthetic_weights(synthetic_config(o.synth), 1);
    model = std::make_shared<LlamaModel>(w);
    name = "synthetic " + o.synth + " fp32";
    size_bytes = w->parameter_count() * 4;
  } else {
    LoadedModel lm = o.model.open(/*need_tokenizer=*/false);
    model = lm.model;
    name = o.model.model;
    size_bytes = lm.size_bytes;
  }
  const ModelConfig& c = model->config();
  const int64_t params = model->weights().parameter_count();
  int64_t linear_params = 0;
  for (int k = 0; k < kLinearKinds; ++k) linear_params += int64_t(model->linear({0, LinearKind(k)}).in_features()) * model->linear({0, LinearKind(k)}).out_features();
  linear_params = linear_params * c.n_layers + int64_t(c.vocab_size) * c.dim;

  std::vector<int> thread_list = o.threads.empty() ? std::vector<int>{omp_get_max_threads()} : o.threads;
  std::mt19937 rng(0);
  std::vector<Row> rows;
  for (int t : thread_list) {
    set_threads(t);
    auto measure = [&](const std::string& test, int n, bool prefill) {
      if (n <= 0) return;
      if (n > c.max_seq_len) fail("{} tokens exceed the model context {}", n, c.max_seq_len);
      Row row{test, t, {}};
      std::vector<int> tokens(n);
      for (int& tok : tokens) tok = int(rng() % c.vocab_size);
      KVCache cache = model->new_cache(n);
      std::vector<float> logits(size_t(c.vocab_size));
      for (int r = -1; r < o.reps; ++r) {  // r = -1: warm-up, not recorded
        auto t0 = std::chrono::steady_clock::now();
        if (prefill) {
          model->forward(tokens.data(), n, 0, cache, logits.data(), /*all_logits=*/false);
        } else {
          for (int i = 0; i < n; ++i) model->forward(&tokens[i], 1, i, cache, logits.data(), false);
        }
        if (r >= 0) row.tps.push_back(n / seconds_since(t0));
      }
      rows.push_back(row);
    };
    for (int p : o.prompt) measure("pp" + std::to_string(p), p, true);
    for (int g : o.gen) measure("tg" + std::to_string(g), g, false);
  }

  const std::string size_str = size_bytes >= (1 << 30) ? fmt::format("{:.2f} GiB", size_bytes / double(1 << 30))
                                                        : fmt::format("{:.2f} MiB", size_bytes / double(1 << 20));
  const std::string params_str = params >= 1000000000 ? fmt::format("{:.2f} B", params / 1e9)
                                                      : fmt::format("{:.2f} M", params / 1e6);
  const double bpw = 8.0 * size_bytes / params;
  auto gflops = [&](const Row& r) { return 2.0 * linear_params * r.mean() / 1e9; };
  if (o.output == "json") {
    nlohmann::json j = nlohmann::json::array();
    for (auto& r : rows)
      j.push_back({{"model", name}, {"size_bytes", size_bytes}, {"params", params}, {"bits_per_weight", bpw},
                   {"threads", r.threads}, {"test", r.test}, {"tokens_per_s", r.mean()},
                   {"stddev", r.stddev()}, {"samples", r.tps}, {"linear_gflops", gflops(r)}});
    std::cout << j.dump(2) << "\n";
  } else if (o.output == "csv") {
    std::cout << "model,size_bytes,params,bits_per_weight,threads,test,tokens_per_s,stddev,linear_gflops\n";
    for (auto& r : rows)
      std::cout << fmt::format("\"{}\",{},{},{:.4f},{},{},{:.3f},{:.3f},{:.2f}\n", name, size_bytes, params, bpw,
                               r.threads, r.test, r.mean(), r.stddev(), gflops(r));
  } else if (o.output == "md") {
    std::cout << "| model | size | params | bits/w | threads | test | t/s | GFLOP/s |\n"
                 "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
    for (auto& r : rows)
      std::cout << fmt::format("| {} | {} | {} | {:.2f} | {} | {} | {:.2f} ± {:.2f} | {:.1f} |\n", name,
                               size_str, params_str, bpw, r.threads, r.test, r.mean(), r.stddev(), gflops(r));
  } else {
    fail("-o/--output: expected md, csv or json (got '{}')", o.output);
  }
}

void setup(CLI::App& app) {
  auto o = std::make_shared<BenchCmd>();
  CLI::App* cmd = app.add_subcommand("bench", "prefill and decode throughput (llama-bench style)");
  cmd->add_option("-m,--model", o->model.model, "llama2.c checkpoint, Hugging Face directory or .binq file");
  cmd->add_option("--tokenizer", o->model.tokenizer, "unused; accepted for symmetry");
  cmd->add_flag("--simulate", o->model.simulate, ".binq only: run the simulated (dequantized) path instead of the bitwise kernels");
  cmd->add_option("--synth", o->synth, "random weights of a known shape instead of --model (tinyllama-1.1b, llama-7b, ...)");
  cmd->add_option("-p,--n-prompt", o->prompt, "prompt lengths to prefill (0 = skip)")->delimiter(',')->capture_default_str();
  cmd->add_option("-n,--n-gen", o->gen, "tokens to decode (0 = skip)")->delimiter(',')->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "thread counts (comma list; default: all cores)")->delimiter(',');
  cmd->add_option("-r,--repetitions", o->reps, "repetitions per test")->capture_default_str();
  cmd->add_option("-o,--output", o->output, "md | csv | json")->capture_default_str();
  cmd->callback([o] { run(*o); });
}

Registrar reg("bench", setup);

}  // namespace
}  // namespace binq::cli
