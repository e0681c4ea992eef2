#include "cli/quantize_run.h"

#include <sys/stat.h>

#include <chrono>

#include "binq/core/error.h"
#include "binq/core/paths.h"
#include "binq/eval/perplexity.h"
#include "binq/quant/quantized_model.h"
#include "cli/model_loading.h"

namespace binq::cli {

void QuantizeCmd::add_to(CLI::App* cmd) {
  cmd->add_option("-m,--model", model, "FP checkpoint: llama2.c file or Hugging Face directory")->required();
  cmd->add_option("--tokenizer", tokenizer, "tokenizer file (default: next to the model); embedded in the .binq");
  cmd->add_option("-o,--out", out, "output .binq file")->required();
  cmd->add_option("-t,--threads", threads, "threads (default: all cores)");
  cmd->add_option("--method", method, "bwa (this method) | rtn | gptq | billm | fp")->capture_default_str();
  auto* g = cmd->add_option_group("calibration");
  g->add_option("--calib", q.calib, "calibration text: a file or wikitext2 | tinystories | wikitext2-full | ptb "
                                    "(default: tinystories for 512-token vocabularies, else wikitext2 = WikiText-2 train prefix)");
  g->add_option("--nsamples", q.nsamples, "calibration windows")->capture_default_str();
  g->add_option("--calib-ctx", q.calib_ctx, "tokens per window (clamped to the model context)")->capture_default_str();
  g->add_option("--seed", q.seed, "window sampling seed")->capture_default_str();
  g->add_option("--data-dir", data_dir, "dataset folder (default: $BINQ_SHARED/data)");
  g->add_option("--calib-runtime", calib_runtime,
                "how quantized W(1+1) layers run during calibration: simulated (double precision) | float "
                "(FP32 sgemm, ~2x faster on large models) | bitwise (the kernels)")
      ->capture_default_str();
  auto* w = cmd->add_option_group("weights (bwa unless noted)");
  w->add_option("--group", q.group, "block size B (bwa, billm; default min(128, width))");
  w->add_option("--outliers", q.outliers, "K INT8 outlier channels (bwa, gptq; default min(128, ceil(width/32)))");
  w->add_option("--cluster", cluster, "em (paper) | dp (exact 1-D optimum)")->capture_default_str();
  w->add_option("--compensation", compensation, "block (paper Alg. 1) | column (GPTQ intra-block) | none")
      ->capture_default_str();
  w->add_flag("--no-bitmap", no_bitmap, "one element group per (row, block): 2 centres, 1 bit");
  w->add_flag("--no-hessian-weight", no_hessian_weight, "plain (unweighted) clustering distance");
  w->add_flag("--no-min-distance", no_min_distance, "sign binarization (alpha, beta) instead of clustering");
  w->add_option("--ladder-rung", q.ladder_rung, "paper Table 5 rung 0..5 (0 W1A4 GPTQ, 1 +outliers, 2 +min-distance, "
                                                "3 +bitmap, 4 +Hessian, 5 +balancing = full)");
  w->add_option("--em-iters", q.em_iters, "EM iteration cap")->capture_default_str();
  w->add_option("--damp", q.percdamp, "Hessian damping (fraction of mean diag)")->capture_default_str();
  w->add_option("--wbits", q.wbits, "weight bits of rtn / gptq (default 4)");
  auto* a = cmd->add_option_group("activations and KV cache");
  a->add_option("--abits", q.abits, "activation bits, 16 = not quantized (default: 4; billm 16)");
  a->add_option("--balance", balance, "bit-plane scales: none | paper (Eq. 11) | lsq (default: paper for bwa, else none)");
  a->add_option("--outlier-abits", q.outlier_abits, "activation bits of outlier channels")->capture_default_str();
  a->add_option("--kv-bits", q.kv_bits, "KV cache bits: 4 (packed INT4) or 16/32 = float (default 4 with quantized activations)");
  auto* e = cmd->add_option_group("evaluation of the written file (simulated runtime)");
  e->add_option("--eval-dataset", eval_datasets, "perplexity (paper protocol) on wikitext2 | tinystories | ptb | c4; repeatable");
  e->add_option("--eval-windows", eval_windows, "score only the first N windows (0 = the whole text)")->capture_default_str();
  cmd->add_flag("--json", json, "print the summary as JSON");
}

QuantizeOptions QuantizeCmd::to_options() const {
  QuantizeOptions o = q;
  o.method = parse_method(method);
  o.data_dir = data_dir;
  if (cluster == "em") o.cluster = ClusterMethod::EM;
  else if (cluster == "dp") o.cluster = ClusterMethod::DP;
  else fail("--cluster: expected em or dp (got '{}')", cluster);
  if (compensation == "block") o.compensation = Compensation::Block;
  else if (compensation == "column") o.compensation = Compensation::Column;
  else if (compensation == "none") o.compensation = Compensation::None;
  else fail("--compensation: expected block, column or none (got '{}')", compensation);
  if (calib_runtime == "simulated") o.calib_runtime = BinqRuntime::Simulated;
  else if (calib_runtime == "bitwise") o.calib_runtime = BinqRuntime::Bitwise;
  else if (calib_runtime == "float") o.calib_float = true;
  else fail("--calib-runtime: expected simulated, float or bitwise (got '{}')", calib_runtime);
  o.bitmap = !no_bitmap;
  o.hessian_weighted = !no_hessian_weight;
  o.min_distance = !no_min_distance;
  if (!balance.empty()) o.balance = parse_balance(balance, "--balance");
  if (eval_windows < 0) fail("--eval-windows must be >= 0 (got {})", eval_windows);
  for (const auto& d : eval_datasets) {
    bool known = false;
    for (const auto& n : perplexity_dataset_names()) known |= n == d;
    if (!known) fail("--eval-dataset: unknown dataset '{}'", d);
  }
  return resolve_options(o);  // fails early, before the model is loaded
}

EvalResult evaluate_dataset(const LlamaModel& model, const Tokenizer& tok, const std::string& dataset,
                            const std::string& data_dir, int max_windows, TextCache* cache) {
  const std::string dir = data_dir.empty() ? shared_dir() + "/data" : data_dir;
  std::vector<int> local;
  const std::string key = "eval:" + dataset;
  std::vector<int>* tokens = &local;
  if (cache) tokens = &cache->tokens[key];
  if (tokens->empty()) *tokens = tok.encode(load_perplexity_dataset(dataset, dir), /*add_bos=*/true);
  PerplexityOptions opt;  // paper protocol, ctx = min(2048, model context)
  const int ctx = std::min(2048, model.config().max_seq_len);
  std::vector<int> head;
  const std::vector<int>* use = tokens;
  if (max_windows > 0 && tokens->size() > size_t(max_windows) * ctx) {
    head.assign(tokens->begin(), tokens->begin() + size_t(max_windows) * ctx);
    use = &head;
  }
  PerplexityResult r = compute_perplexity(model, *use, opt, tok.bos_id());
  return {dataset, r.ppl, r.windows, r.ctx, r.tokens_scored, r.seconds};
}

QuantizeResult run_quantize(const QuantizeCmd& cmd, TextCache* cache) {
  set_threads(cmd.threads);
  QuantizeOptions o = cmd.to_options();
  if (is_binq_file(cmd.model)) fail("--model {}: already a .binq file; quantize the original checkpoint", cmd.model);
  // Per block: the quantizer reads, converts and releases one block's linears at a time, so
  // peak memory is one block plus the compact results, not the whole model in FP32.
  LoadedModel lm = open_model(cmd.model, cmd.tokenizer, /*need_tokenizer=*/true, /*simulate=*/false,
                              LinearLoading::PerBlock);
  std::shared_ptr<const ModelWeights> fp = lm.model->weights_ptr();
  lm.model.reset();  // the pipeline builds its own model over the same weights
  const int vocab = fp->config.vocab_size;
  check_sizes_for_model(o, fp->config);

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<int> local;
  std::vector<int>* calib = &local;
  std::string calib_path;
  if (method_needs_calibration(o.method)) {
    calib_path = resolve_calibration_path(o.calib, o.data_dir, vocab);
    if (cache) calib = &cache->tokens["calib:" + calib_path];
    if (calib->empty()) *calib = tokenize_calibration_text(calib_path, *lm.tokenizer);
    if (o.log) o.log(fmt::format("calibration text {}: {} tokens", calib_path, calib->size()));
  }
  QuantizedModel qm = quantize_model(fp, *calib, calib_path, o);
  QuantizeResult r;
  r.quantize_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  qm.recipe["timings"]["with_tokenization_s"] = r.quantize_seconds;
  qm.tokenizer_path = cmd.tokenizer.empty() ? find_tokenizer_for(cmd.model, vocab) : cmd.tokenizer;
  write_binq(qm, cmd.out);

  struct stat st {};
  if (stat(cmd.out.c_str(), &st) != 0) fail("{}: written but cannot be read back", cmd.out);
  r.file_bytes = st.st_size;
  r.recipe = qm.recipe;
  r.bits_per_weight = linear_bits_per_weight(qm);
  r.file_bits_per_param = double(r.file_bytes) * 8.0 / double(fp->parameter_count());
  if (!cmd.eval_datasets.empty()) {
    qm = QuantizedModel{};  // free the unpacked layers before evaluation
    LoadedBinq b = load_binq(cmd.out, BinqRuntime::Simulated);
    for (const auto& d : cmd.eval_datasets) {
      r.evals.push_back(evaluate_dataset(*b.model, *lm.tokenizer, d, cmd.data_dir, cmd.eval_windows, cache));
      if (o.log)
        o.log(fmt::format("{}: ppl {:.4f} ({} windows x {}, {:.1f} s)", d, r.evals.back().ppl, r.evals.back().windows,
                          r.evals.back().ctx, r.evals.back().seconds));
    }
  }
  return r;
}

}  // namespace binq::cli
