// binq quantize: checkpoint -> .binq by this method (bwa) or a baseline, with the same
// calibration for all (method.md §2-§7). Progress on stderr, summary on stdout.
#include <sys/resource.h>

#include <cstdio>
#include <iostream>

#include "binq/core/error.h"
#include "cli/quantize_run.h"

namespace binq::cli {
namespace {

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;  // Linux reports KiB
}

void run(QuantizeCmd& o) {
  o.q.log = [](const std::string& line) { std::fprintf(stderr, "[quantize] %s\n", line.c_str()); };
  QuantizeResult r = run_quantize(o);
  const double rss = peak_rss_mib();
  if (o.json) {
    nlohmann::json j = {{"out", o.out},
                        {"file_bytes", r.file_bytes},
                        {"bits_per_weight", r.bits_per_weight},
                        {"file_bits_per_param", r.file_bits_per_param},
                        {"seconds", r.quantize_seconds},
                        {"peak_rss_mib", rss},
                        {"recipe", r.recipe}};
    j["eval"] = nlohmann::json::array();
    for (const auto& e : r.evals)
      j["eval"].push_back({{"dataset", e.dataset}, {"ppl", e.ppl}, {"windows", e.windows}, {"ctx", e.ctx},
                           {"tokens_scored", e.tokens_scored}, {"protocol", "paper"}, {"simulated", true}});
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("method:     %s (%s)\n", r.recipe["method"].get<std::string>().c_str(),
              r.recipe["label"].get<std::string>().c_str());
  std::printf("sizes:      %s (input width -> B, K)\n", r.recipe["sizes"].dump().c_str());
  std::printf("wrote:      %s, %.3f MiB (%.3f bits per parameter, embeddings and head included)\n", o.out.c_str(),
              r.file_bytes / 1048576.0, r.file_bits_per_param);
  std::printf("linears:    %.4f bits/weight (signs, bitmaps, FP16 params, INT8 outliers, permutations)\n",
              r.bits_per_weight);
  std::printf("time:       %.2f s   peak RSS: %.1f MiB\n", r.quantize_seconds, rss);
  for (const auto& e : r.evals)
    std::printf("ppl %-12s %.4f  (paper protocol, %d windows x %d, simulated)\n", e.dataset.c_str(), e.ppl, e.windows,
                e.ctx);
}

void setup(CLI::App& app) {
  auto o = std::make_shared<QuantizeCmd>();
  CLI::App* cmd = app.add_subcommand("quantize", "post-training quantization to W(1+1)A(1x4) (.binq) or a baseline");
  o->add_to(cmd);
  cmd->callback([o] { run(*o); });
}

Registrar reg("quantize", setup);

}  // namespace
}  // namespace binq::cli
