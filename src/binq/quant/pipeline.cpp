#include "binq/quant/pipeline.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <string_view>

#include "binq/core/error.h"
#include "binq/core/mapped_file.h"
#include "binq/core/paths.h"
#include "binq/quant/calibration.h"
#include "binq/quant/group_quantizers.h"
#include "binq/quant/sequential.h"

namespace binq {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

bool method_needs_calibration(QuantMethod m) { return m != QuantMethod::Rtn && m != QuantMethod::Fp; }

const char* method_name(QuantMethod m) {
  switch (m) {
    case QuantMethod::Bwa: return "bwa";
    case QuantMethod::Rtn: return "rtn";
    case QuantMethod::Gptq: return "gptq";
    case QuantMethod::Billm: return "billm";
    case QuantMethod::Fp: return "fp";
  }
  return "?";
}

QuantMethod parse_method(const std::string& s) {
  for (QuantMethod m : {QuantMethod::Bwa, QuantMethod::Rtn, QuantMethod::Gptq, QuantMethod::Billm, QuantMethod::Fp})
    if (s == method_name(m)) return m;
  fail("--method: unknown method '{}' (expected bwa, rtn, gptq, billm or fp)", s);
}

int default_group_size(int width) { return std::max(1, std::min(128, width)); }

int default_outliers(int width) {
  // The paper keeps 128 of 4096 channels (1/32) in INT8: keep that share, never more than 128.
  return std::min(128, (width + 31) / 32);
}

std::vector<std::string> calibration_datasets() { return {"wikitext2", "tinystories", "wikitext2-full", "ptb"}; }

std::string resolve_calibration_path(const std::string& calib, const std::string& data_dir, int vocab_size) {
  const std::string dir = data_dir.empty() ? shared_dir() + "/data" : data_dir;
  std::string name = calib;
  // llama2.c TinyStories checkpoints (stories260K: 512 tokens) were trained on TinyStories.
  if (name.empty()) name = vocab_size == 512 ? "tinystories" : "wikitext2";
  std::string path;
  if (name == "wikitext2") path = dir + "/wikitext-2-raw/wiki.train.raw.prefix.txt";
  else if (name == "tinystories") path = dir + "/tinystories/tinystories_train.txt";
  else if (name == "wikitext2-full") path = dir + "/wikitext-2/train.shuffled_chunks.txt";
  else if (name == "ptb") path = dir + "/ptb/ptb.valid.txt";
  else if (path_exists(calib) && !is_directory(calib)) return calib;
  else fail("--calib '{}': neither a file nor a calibration dataset (wikitext2, tinystories, wikitext2-full, ptb)", calib);
  if (!path_exists(path)) fail("--calib {}: {} does not exist (check --data-dir / $BINQ_SHARED)", name, path);
  return path;
}

std::vector<int> tokenize_calibration_text(const std::string& path, const Tokenizer& tok) {
  const std::string text = read_text_file(path);
  static constexpr std::string_view kSep = "<|endoftext|>";
  if (text.find(kSep) == std::string::npos) return tok.encode(text, /*add_bos=*/true);
  std::vector<int> tokens;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(kSep, pos);
    if (end == std::string::npos) end = text.size();
    std::string_view doc(text.data() + pos, end - pos);
    while (!doc.empty() && std::isspace(static_cast<unsigned char>(doc.front()))) doc.remove_prefix(1);
    while (!doc.empty() && std::isspace(static_cast<unsigned char>(doc.back()))) doc.remove_suffix(1);
    if (!doc.empty()) {
      auto ids = tok.encode(doc, /*add_bos=*/true);
      tokens.insert(tokens.end(), ids.begin(), ids.end());
    }
    pos = end + kSep.size();
  }
  return tokens;
}

QuantizeOptions resolve_options(QuantizeOptions o) {
  const bool bwa = o.method == QuantMethod::Bwa;
  const char* m = method_name(o.method);
  if (o.nsamples <= 0) fail("--nsamples must be positive (got {})", o.nsamples);
  if (o.calib_ctx < 2) fail("--calib-ctx must be at least 2 (got {})", o.calib_ctx);
  if (o.group < 0) fail("--group must be a positive block size (got {})", o.group);
  if (o.outliers < -1) fail("--outliers must be >= 0 (got {})", o.outliers);
  if (o.em_iters < 1) fail("--em-iters must be >= 1 (got {})", o.em_iters);
  if (!(o.percdamp > 0 && o.percdamp < 10)) fail("--damp must be in (0, 10) (got {})", o.percdamp);
  if (o.ladder_rung < -1 || o.ladder_rung > kLadderRungs)
    fail("--ladder-rung must be 0..{} (got {})", kLadderRungs, o.ladder_rung);
  if (o.outlier_abits < 2 || o.outlier_abits > 8) fail("--outlier-abits must be 2..8 (got {})", o.outlier_abits);

  // Switches that only mean something for bwa.
  const bool weight_switches = !o.bitmap || !o.hessian_weighted || !o.min_distance;
  if (!bwa) {
    if (weight_switches) fail("--no-bitmap / --no-hessian-weight / --no-min-distance apply to --method bwa, not {}", m);
    if (o.ladder_rung >= 0) fail("--ladder-rung applies to --method bwa, not {}", m);
    if (o.cluster != ClusterMethod::EM) fail("--cluster applies to --method bwa, not {}", m);
    if (o.compensation != Compensation::Block) fail("--compensation applies to --method bwa, not {}", m);
  } else if (o.ladder_rung >= 0 && weight_switches) {
    fail("--ladder-rung sets bitmap, Hessian weighting and minimum distance itself; drop --no-bitmap, "
         "--no-hessian-weight and --no-min-distance");
  }
  if (o.method == QuantMethod::Fp) {
    if (o.abits != 0 && o.abits != 16) fail("--abits {}: --method fp quantizes nothing (use rtn for A{})", o.abits, o.abits);
    if (o.wbits != 0) fail("--wbits: --method fp quantizes nothing");
    if (o.kv_bits != 0 && o.kv_bits != 16 && o.kv_bits != 32) fail("--kv-bits: --method fp keeps the KV cache in floats");
  }
  if (o.outliers >= 0 && o.method != QuantMethod::Bwa && o.method != QuantMethod::Gptq)
    fail("--outliers applies to --method bwa and gptq; {} has no outlier channels", m);
  if (o.group > 0 && o.method != QuantMethod::Bwa && o.method != QuantMethod::Billm)
    fail("--group applies to --method bwa and billm (the block size B), not {}", m);

  // Weight bits.
  if (o.method == QuantMethod::Rtn || o.method == QuantMethod::Gptq) {
    if (o.wbits == 0) o.wbits = 4;
    if (o.wbits < 1 || o.wbits > 8) fail("--wbits must be 1..8 (got {})", o.wbits);
  } else if (o.wbits != 0) {
    fail("--wbits applies to --method rtn and gptq; {} has its own weight format", m);
  }

  // Activation bits: 16 means "not quantized".
  if (o.abits == 0) o.abits = (o.method == QuantMethod::Billm || o.method == QuantMethod::Fp) ? 16 : 4;
  if (o.abits != 16 && (o.abits < 1 || o.abits > 8)) fail("--abits must be 1..8 or 16 (got {})", o.abits);
  // A16 is a diagnostic (weight error alone, simulated runtime only); other widths are not the method.
  if (bwa && o.abits != 4 && o.abits != 16)
    fail("--abits {}: bwa is W(1+1)A(1x4), its activations are 4 bit-planes (--abits 4, or 16 to switch "
         "activation quantization off)", o.abits);
  if (!o.balance) {
    const bool full = o.ladder_rung < 0 || o.ladder_rung == kLadderRungs;
    o.balance = bwa && full && o.abits < 16 ? Balance::Paper : Balance::None;
  }
  if (o.abits == 16 && *o.balance != Balance::None) fail("--balance needs quantized activations (--abits < 16)");

  if (o.kv_bits == 0) o.kv_bits = o.abits < 16 ? 4 : 32;
  if (o.kv_bits == 16) o.kv_bits = 32;  // "not quantized": the engine keeps FP32
  if (o.kv_bits != 32 && o.kv_bits != 4) fail("--kv-bits must be 4 (packed INT4 cache), 16 or 32 (float) (got {})", o.kv_bits);
  return o;
}

void check_sizes_for_model(const QuantizeOptions& o, const ModelConfig& c) {
  const int narrowest = std::min({c.dim, c.q_dim(), c.hidden_dim});
  if (o.outliers > narrowest)
    fail("--outliers {}: the narrowest linear input of this model has {} channels", o.outliers, narrowest);
}

namespace {

std::string method_label(const QuantizeOptions& o) {
  const std::string a = o.abits >= 16 ? "16" : std::to_string(o.abits);
  switch (o.method) {
    case QuantMethod::Bwa: return o.abits < 16 ? "W(1+1)A(1x4)" : "W(1+1)A16";
    case QuantMethod::Rtn:
    case QuantMethod::Gptq: return "W" + std::to_string(o.wbits) + "A" + a;
    case QuantMethod::Billm: return "W(1+1)A" + a;
    case QuantMethod::Fp: return "FP16";
  }
  return "?";
}

nlohmann::json options_json(const QuantizeOptions& o) {
  nlohmann::json j = {{"method", method_name(o.method)}, {"label", method_label(o)},
                      {"group", o.group == 0 ? nlohmann::json("auto") : nlohmann::json(o.group)},
                      {"outliers", o.outliers < 0 ? nlohmann::json("auto") : nlohmann::json(o.outliers)}};
  if (o.method == QuantMethod::Bwa) {
    j["weights"] = {{"cluster", o.cluster == ClusterMethod::DP ? "dp" : "em"},
                    {"compensation", compensation_name(o.compensation)},
                    {"bitmap", o.bitmap},
                    {"hessian_weighted", o.hessian_weighted},
                    {"min_distance", o.min_distance},
                    {"ladder_rung", o.ladder_rung},
                    {"em_iters", o.em_iters},
                    {"percdamp", o.percdamp}};
    if (o.ladder_rung >= 0)
      j["weights"]["ladder_name"] = o.ladder_rung < kLadderRungs ? ladder_name(o.ladder_rung) : "+ bit-plane scale balancing";
  } else if (o.method != QuantMethod::Fp) {
    j["weights"] = {{"percdamp", o.percdamp}};
    if (o.wbits) j["weights"]["wbits"] = o.wbits;
  }
  j["calib_runtime"] = o.calib_float ? "float" : o.calib_runtime == BinqRuntime::Bitwise ? "bitwise" : "simulated";
  j["activations"] = {{"quantize", o.abits < 16},
                      {"bits", o.abits},
                      {"balance", balance_name(*o.balance)},
                      {"outlier_bits", o.outlier_abits},
                      {"kv_bits", o.kv_bits}};
  return j;
}

}  // namespace

double linear_bits_per_weight(const QuantizedModel& m) {
  double bits = 0, weights = 0;
  for (const QuantizedLinear& q : m.linears) {
    const bool bin = q.kind == QuantizedLinear::Kind::Binary;
    const double n = bin ? double(q.binary.out_features) * q.binary.in_features : double(q.out_features) * q.in_features;
    bits += n * (bin ? bits_per_weight(q.binary) : q.nominal_bits);
    weights += n;
  }
  return weights > 0 ? bits / weights : 0;
}

std::shared_ptr<LlamaModel> simulated_model(const QuantizedModel& m) {
  auto model = std::make_shared<LlamaModel>(m.base);
  const int L = m.base->config.n_layers;
  for (int l = 0; l < L; ++l)
    for (int k = 0; k < kLinearKinds; ++k)
      model->set_linear({l, LinearKind(k)}, make_quantized_linear(m.linears.at(size_t(l) * kLinearKinds + k),
                                                                  m.activations, BinqRuntime::Simulated));
  model->set_kv_bits(m.activations.kv_bits);
  return model;
}

QuantizedModel quantize_model(const std::shared_ptr<const ModelWeights>& fp, const Tokenizer& tok,
                              const QuantizeOptions& options) {
  if (!method_needs_calibration(options.method)) return quantize_model(fp, std::vector<int>{}, "", options);
  const auto t0 = std::chrono::steady_clock::now();
  const std::string path = resolve_calibration_path(options.calib, options.data_dir, tok.vocab_size());
  std::vector<int> tokens = tokenize_calibration_text(path, tok);
  if (options.log)
    options.log(fmt::format("calibration text {}: {} tokens (tokenized in {:.1f} s)", path, tokens.size(), seconds_since(t0)));
  return quantize_model(fp, tokens, path, options);
}

QuantizedModel quantize_model(const std::shared_ptr<const ModelWeights>& fp, const std::vector<int>& calib_tokens,
                              const std::string& source, const QuantizeOptions& options) {
  if (!fp) fail("quantize_model: no model weights");
  const QuantizeOptions o = resolve_options(options);
  const ModelConfig& c = fp->config;
  check_sizes_for_model(o, c);
  const auto t0 = std::chrono::steady_clock::now();

  QuantizedModel qm;
  qm.base = fp;
  qm.activations.quantize = o.abits < 16;
  qm.activations.config.bits = o.abits < 16 ? o.abits : 4;
  qm.activations.config.balance = *o.balance;
  qm.activations.config.outlier_bits = o.outlier_abits;
  qm.activations.kv_bits = o.kv_bits;
  qm.linears.resize(size_t(c.n_layers) * kLinearKinds);

  LlamaModel model(fp);
  model.set_kv_bits(o.kv_bits);  // calibration sees the KV quantization of evaluation time
  MethodGroupQuantizer gq(o, qm.activations, qm.linears);
  nlohmann::json calib = nullptr;
  double calib_s = 0;

  if (method_needs_calibration(o.method)) {
    const int ctx = std::min(o.calib_ctx, c.max_seq_len > 0 ? c.max_seq_len : o.calib_ctx);
    auto windows = sample_calibration_windows(calib_tokens, o.nsamples, ctx, o.seed, source.empty() ? "--calib" : source);
    CalibrationActivations acts = embed_windows(model, windows);
    windows.clear();
    calib_s = seconds_since(t0);
    calib = {{"file", source}, {"text_tokens", calib_tokens.size()}, {"nsamples", o.nsamples},
             {"ctx", ctx},     {"seed", o.seed},                     {"activation_bytes", acts.bytes()}};
    if (o.log)
      o.log(fmt::format("{} x {} calibration tokens (seed {}), {:.1f} MiB of FP16 activations", o.nsamples, ctx,
                        o.seed, acts.bytes() / 1048576.0));
    quantize_sequential(model, acts, gq, [&](const SequentialProgress& p) {
      if (o.log)
        o.log(fmt::format("block {}/{} quantized  elapsed {:.1f} s  ETA {:.1f} s", p.layer, p.layers, p.elapsed_s,
                          p.eta_s));
    });
  } else {
    // Data-free methods: no calibration pass at all (H is not used).
    for (int l = 0; l < c.n_layers; ++l) {
      const BlockLinears block = block_linears(*fp, l);  // one block's FP32 weights at a time
      for (const auto& group : linear_groups()) gq.quantize_group(l, group, block, {});
    }
  }

  qm.recipe = options_json(o);
  qm.recipe["sizes"] = gq.sizes_json();
  qm.recipe["calibration"] = calib;
  const double total = seconds_since(t0);
  qm.recipe["timings"] = {{"calibration_s", calib_s}, {"weights_s", gq.weight_seconds()}, {"total_s", total}};
  qm.recipe["linear_bits_per_weight"] = linear_bits_per_weight(qm);
  return qm;
}

}  // namespace binq
