// binq report: the results tables of issue 3 by one command. Every row is a `binq quantize`
// command line, parsed and run by the very code of `binq quantize` (quantize, write .binq, load
// the file back, simulated perplexity), so the commands printed in the report reproduce it.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "binq/core/error.h"
#include "binq/core/paths.h"
#include "cli/quantize_run.h"

namespace binq::cli {
namespace {

struct ReportCmd {
  std::string model, tokenizer, out = "docs/results.md", work_dir = "/tmp/binq-report";
  // 32 x 512 calibration tokens: 128 x 512 costs ~45 s per row on one core (25 block passes of
  // attention with head_dim 8), which would make the report take half an hour.
  int nsamples = 32, calib_ctx = 512, eval_windows = 64, threads = 0;
  std::vector<std::string> sections = {"main", "ladder", "outliers", "beyond"};
};

struct Row {
  std::string section, name, flags;
};

std::vector<Row> report_rows() {
  std::vector<Row> r = {
      {"main", "FP16", "--method fp"},
      {"main", "RTN W2A4", "--method rtn --wbits 2 --abits 4"},
      {"main", "RTN W4A4", "--method rtn --wbits 4 --abits 4"},
      {"main", "GPTQ W4A4 (Atom-style: reorder, INT8 outliers, KV4)", "--method gptq --wbits 4 --abits 4"},
      {"main", "GPTQ W3A4 (Atom-style; about bwa's bits/weight here)", "--method gptq --wbits 3 --abits 4"},
      {"main", "GPTQ W2A4 (Atom-style)", "--method gptq --wbits 2 --abits 4"},
      {"main", "BiLLM W(1+1)A16", "--method billm --abits 16"},
      {"main", "BiLLM W(1+1)A4", "--method billm --abits 4"},
      {"main", "**bwa W(1+1)A(1x4)** (this method, paper settings)", "--method bwa"},
  };
  const char* ladder[] = {"W1A4 GPTQ (sign binarization, no outliers)", "+ INT8 outliers", "+ minimum-distance (2 centres)",
                          "+ fine-grained group (bitmap, 4 centres)", "+ Hessian-weighted distance",
                          "+ bit-plane scale balancing (= bwa)"};
  for (int i = 0; i <= kLadderRungs; ++i)
    r.push_back({"ladder", std::to_string(i) + ". " + ladder[i], "--method bwa --ladder-rung " + std::to_string(i)});
  for (int k : {0, 1, 2, 4, 8, 16, 32})
    r.push_back({"outliers", "K = " + std::to_string(k), "--method bwa --outliers " + std::to_string(k)});
  r.push_back({"beyond", "bwa, exact DP clustering", "--method bwa --cluster dp"});
  r.push_back({"beyond", "bwa, column-level compensation", "--method bwa --compensation column"});
  r.push_back({"beyond", "bwa, least-squares plane scales", "--method bwa --balance lsq"});
  r.push_back({"beyond", "bwa, no balancing", "--method bwa --balance none"});
  r.push_back({"beyond", "bwa, DP + column + lsq", "--method bwa --cluster dp --compensation column --balance lsq"});
  // Diagnostics: bwa's weights with activations and KV left in floats, to separate weight error
  // from activation error (and to compare with BiLLM W(1+1)A16 on equal terms).
  r.push_back({"beyond", "diagnostic: bwa weights, A16 / KV16", "--method bwa --abits 16"});
  r.push_back({"beyond", "diagnostic: bwa weights, A16, column compensation", "--method bwa --abits 16 --compensation column"});
  return r;
}

std::string canonical(const std::string& p) {
  std::error_code ec;
  auto c = std::filesystem::weakly_canonical(p, ec);
  return ec ? p : c.string();
}

std::string fmt_ppl(double p) { return p < 1e5 ? fmt::format("{:.2f}", p) : fmt::format("{:.3g}", p); }

struct RowResult {
  Row row;
  std::string command;
  QuantizeResult r;
};

std::string table(const std::vector<RowResult>& rows, const std::string& section) {
  std::ostringstream s;
  s << "| # | Configuration | W / A / KV | bits/weight (linears) | file KiB | TinyStories PPL | WikiText-2 PPL | "
       "quantize s |\n|---|---|---|---:|---:|---:|---:|---:|\n";
  int i = 0;
  for (const auto& x : rows) {
    if (x.row.section != section) continue;
    const auto& a = x.r.recipe["activations"];
    std::string wak = x.r.recipe["label"].get<std::string>() + " / " +
                      (a["quantize"].get<bool>() ? "A" + std::to_string(a["bits"].get<int>()) +
                                                       (a["balance"] != "none" ? "+" + a["balance"].get<std::string>() : "")
                                                 : "A16") +
                      " / KV" + std::to_string(a["kv_bits"].get<int>() == 32 ? 16 : a["kv_bits"].get<int>());
    s << "| " << ++i << " | " << x.row.name << " | " << wak << " | " << fmt::format("{:.3f}", x.r.bits_per_weight)
      << " | " << fmt::format("{:.1f}", x.r.file_bytes / 1024.0);
    for (const auto& e : x.r.evals) s << " | " << fmt_ppl(e.ppl);
    s << " | " << fmt::format("{:.1f}", x.r.quantize_seconds) << " |\n";
  }
  return s.str();
}

void run(const ReportCmd& o) {
  const std::string model = canonical(o.model.empty() ? shared_path("models/stories260K/stories260K.bin") : o.model);
  std::filesystem::create_directories(o.work_dir);
  const auto t0 = std::chrono::steady_clock::now();
  TextCache cache;
  std::vector<RowResult> results;
  std::map<std::string, QuantizeResult> by_flags;  // identical configurations run once
  for (const Row& row : report_rows()) {
    if (std::find(o.sections.begin(), o.sections.end(), row.section) == o.sections.end()) continue;
    std::string id = row.flags;
    for (char& ch : id)
      if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    while (id.find("__") != std::string::npos) id.replace(id.find("__"), 2, "_");
    const std::string out = canonical(o.work_dir) + "/" + id.substr(id.find_first_not_of('_')) + ".binq";
    std::string args = "--model " + model + (o.tokenizer.empty() ? "" : " --tokenizer " + o.tokenizer) + " --out " +
                       out + " " + row.flags + " --nsamples " + std::to_string(o.nsamples) + " --calib-ctx " +
                       std::to_string(o.calib_ctx) +
                       " --eval-dataset tinystories --eval-dataset wikitext2 --eval-windows " +
                       std::to_string(o.eval_windows);
    RowResult rr{row, "binq quantize " + args, {}};
    if (auto it = by_flags.find(row.flags); it != by_flags.end()) {
      rr.r = it->second;
    } else {
      QuantizeCmd cmd;
      CLI::App app;
      cmd.add_to(&app);
      app.parse(args + (o.threads ? " -t " + std::to_string(o.threads) : ""), false);
      rr.r = run_quantize(cmd, &cache);
      by_flags[row.flags] = rr.r;
    }
    std::fprintf(stderr, "[report] %-60s %7.3f bits  ppl %s / %s  (%.1f s, total %.0f s)\n", row.name.c_str(),
                 rr.r.bits_per_weight, fmt_ppl(rr.r.evals.at(0).ppl).c_str(), fmt_ppl(rr.r.evals.at(1).ppl).c_str(),
                 rr.r.quantize_seconds, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    results.push_back(std::move(rr));
  }
  if (results.empty()) fail("--sections: no rows selected (expected some of main, ladder, outliers, beyond)");

  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto& e0 = results.front().r.evals;
  std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  std::ostringstream md;
  md << "# Results on stories260K\n\n"
     << "Generated by `binq report` on " << date << " in " << fmt::format("{:.0f}", total_s)
     << " s (peak RSS " << fmt::format("{:.0f}", u.ru_maxrss / 1024.0) << " MiB). Do not edit by hand: rerun\n\n```\n"
     << "binq report --nsamples " << o.nsamples << " --calib-ctx " << o.calib_ctx << " --eval-windows "
     << o.eval_windows << " --out " << o.out << "\n```\n\n"
     << "- Model: `" << model << "` (dim 64, hidden 172, 5 layers; every linear input is 64 or 172 wide).\n"
     << "- Calibration (all rows, the same windows): " << o.nsamples << " windows x " << o.calib_ctx
     << " tokens, seed 0, from TinyStories *train* (`tinystories/tinystories_train.txt`).\n"
     << "- Evaluation: perplexity, paper (GPTQ) protocol, ctx " << (e0.empty() ? 0 : e0[0].ctx) << ", on the first "
     << (e0.empty() ? 0 : e0[0].windows) << " windows of TinyStories validation and of WikiText-2 raw test"
     << (o.eval_windows ? " (`--eval-windows`; 0 = the whole text)" : "") << ". Every number comes from the written "
     << "`.binq` loaded back (simulated runtime: dequantized weights x fake-quantized activations and KV).\n"
     << "- Sizes: B = min(128, width), K = min(128, ceil(width / 32)) per linear input, i.e. "
     << results.back().r.recipe["sizes"].dump() << " for bwa (width -> B, K) unless a row sets them.\n"
     << "- bits/weight counts everything stored for the linear layers (sign + bitmap bits, FP16 per-(row, block) "
        "parameters, INT8 outliers and their scales, int32 permutations; baselines: their own format's bits with "
        "scales). File KiB is the whole `.binq` (FP16 embeddings, norms and tokenizer included); baselines are stored as dequantized FP16 weights for simulation, so their file size is not their format's size (their bits/weight is).\n\n";
  const std::pair<const char*, const char*> titles[] = {
      {"main", "## bwa versus the baselines"},
      {"ladder", "## Paper Table 5: the ablation ladder (W1A4 GPTQ -> full method)"},
      {"outliers", "## Paper Table 9: INT8 outlier channels K"},
      {"beyond", "## Beyond the paper (switchable improvements)"}};
  for (const auto& [sec, title] : titles)
    if (std::find(o.sections.begin(), o.sections.end(), sec) != o.sections.end())
      md << title << "\n\n" << table(results, sec) << "\n";
  md << "## Exact commands\n\nEach prints the two perplexities above (`binq quantize --help` lists every flag).\n\n";
  for (const auto& x : results) md << "- " << x.row.name << ":\n  `" << x.command << "`\n";
  std::ofstream f(o.out);
  if (!(f << md.str())) fail("--out {}: cannot write", o.out);
  std::printf("wrote %s (%zu rows, %.0f s)\n", o.out.c_str(), results.size(), total_s);
}

void setup(CLI::App& app) {
  auto o = std::make_shared<ReportCmd>();
  CLI::App* cmd = app.add_subcommand("report", "quantize stories260K by every method and write the results tables");
  cmd->add_option("-m,--model", o->model, "FP checkpoint (default: <shared>/models/stories260K/stories260K.bin)");
  cmd->add_option("--tokenizer", o->tokenizer, "tokenizer (default: next to the model)");
  cmd->add_option("-o,--out", o->out, "markdown file to write")->capture_default_str();
  cmd->add_option("--work-dir", o->work_dir, "where the .binq files go")->capture_default_str();
  cmd->add_option("--nsamples", o->nsamples, "calibration windows")->capture_default_str();
  cmd->add_option("--calib-ctx", o->calib_ctx, "calibration window length")->capture_default_str();
  cmd->add_option("--eval-windows", o->eval_windows, "evaluate the first N windows of each text (0 = all)")
      ->capture_default_str();
  cmd->add_option("--sections", o->sections, "main ladder outliers beyond")->delimiter(',');
  cmd->add_option("-t,--threads", o->threads, "threads (default: all cores)");
  cmd->callback([o] { run(*o); });
}

Registrar reg("report", setup);

}  // namespace
}  // namespace binq::cli
