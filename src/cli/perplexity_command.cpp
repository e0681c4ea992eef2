// binq perplexity: paper (GPTQ) or llama.cpp protocol on a text file or a named dataset.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "binq/core/error.h"
#include "binq/core/mapped_file.h"
#include "binq/core/paths.h"
#include "binq/eval/perplexity.h"
#include "cli/model_loading.h"

namespace binq::cli {
namespace {

struct PerplexityCmd {
  ModelOptions model;
  std::string file, dataset, protocol = "paper", data_dir;
  int ctx = 0;
  bool json = false;
};

void run(const PerplexityCmd& o) {
  set_threads(o.model.threads);
  if (o.file.empty() == o.dataset.empty()) fail("give exactly one of --file or --dataset");
  LoadedModel lm = o.model.open();
  const std::string data_dir = o.data_dir.empty() ? shared_dir() + "/data" : o.data_dir;
  const std::string text = o.file.empty() ? load_perplexity_dataset(o.dataset, data_dir) : read_text_file(o.file);

  auto t0 = std::chrono::steady_clock::now();
  std::vector<int> tokens = lm.tokenizer->encode(text, /*add_bos=*/true);
  double tok_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  PerplexityOptions opt;
  opt.protocol = parse_protocol(o.protocol);
  opt.ctx = o.ctx;
  const bool tty = isatty(fileno(stderr));
  auto start = std::chrono::steady_clock::now();
  opt.progress = [&](int done, int total, double ppl) {
    if (!tty) return;
    double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "\r[%d/%d] ppl %.4f  elapsed %.1fs  ETA %.1fs   ", done, total, ppl, el,
                 el / done * (total - done));
    if (done == total) std::fputc('\n', stderr);
  };
  PerplexityResult r = compute_perplexity(*lm.model, tokens, opt, lm.tokenizer->bos_id());
  const std::string source = o.file.empty() ? o.dataset : o.file;
  if (o.json) {
    nlohmann::json j = {{"model", o.model.model}, {"text", source},          {"protocol", protocol_name(r.protocol)},
                        {"ppl", r.ppl},           {"ppl_stderr", r.ppl_stderr}, {"mean_nll", r.mean_nll},
                        {"ctx", r.ctx},           {"windows", r.windows},    {"tokens_scored", r.tokens_scored},
                        {"tokens_total", r.tokens_total}, {"seconds", r.seconds}, {"tokenize_seconds", tok_s}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("model:    %s\ntext:     %s (%lld tokens, tokenized in %.2f s)\nprotocol: %s, ctx %d, %d windows, %lld tokens scored\n"
                "PPL = %.4f +/- %.4f   (%.2f s, %.0f tokens/s)\n",
                lm.description.c_str(), source.c_str(), (long long)r.tokens_total, tok_s, protocol_name(r.protocol),
                r.ctx, r.windows, (long long)r.tokens_scored, r.ppl, r.ppl_stderr, r.seconds,
                r.windows * double(r.ctx) / r.seconds);
  }
}

void setup(CLI::App& app) {
  auto o = std::make_shared<PerplexityCmd>();
  CLI::App* cmd = app.add_subcommand("perplexity", "perplexity of a text file or dataset");
  o->model.add_to(cmd);
  cmd->add_option("-f,--file", o->file, "text file (used verbatim)");
  cmd->add_option("--dataset", o->dataset, "wikitext2 | ptb | c4 | tinystories (from <shared>/data)");
  cmd->add_option("--data-dir", o->data_dir, "dataset folder (default: $BINQ_SHARED/data)");
  cmd->add_option("-c,--ctx", o->ctx, "window length (default: paper min(2048, model ctx); llamacpp 512)");
  cmd->add_option("--protocol", o->protocol, "paper | llamacpp")->capture_default_str();
  cmd->add_flag("--json", o->json, "print a JSON object instead of text");
  cmd->callback([o] { run(*o); });
}

Registrar reg("perplexity", setup);

}  // namespace
}  // namespace binq::cli
