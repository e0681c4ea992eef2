// The whole post-training quantization of a model (method.md §2-§7): calibration windows ->
// layer-by-layer (true-sequential) quantization with one GroupQuantizer per method -> a
// QuantizedModel that write_binq stores. The same pipeline runs this method (bwa) and every
// baseline, so all numbers of a results table share one calibration and one evaluation.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "binq/kernels/act_quant.h"
#include "binq/quant/gptq.h"
#include "binq/quant/quantized_model.h"
#include "binq/tokenizer/tokenizer.h"

namespace binq {

enum class QuantMethod {
  Bwa,    // W(1+1)A(1x4): this method (paper), Kind::Binary layers
  Rtn,    // RTN W{n}A{m}: per-channel asymmetric weights, per-token asymmetric activations
  Gptq,   // Atom-style: reorder + K INT8 outliers + GPTQ n-bit + INT{m} activations + KV4
  Billm,  // BiLLM W(1+1) (salient residual binarization + magnitude split), A16 or A4
  Fp,     // no quantization (the FP16 reference row)
};
const char* method_name(QuantMethod m);                      // "bwa", "rtn", ...
QuantMethod parse_method(const std::string& s);              // fails naming --method
// rtn and fp are data-free: they skip the calibration pass entirely.
bool method_needs_calibration(QuantMethod m);

// Everything `binq quantize` can set. Sizes left at their "auto" value scale with the width of
// each linear input (see default_group_size / default_outliers) and are recorded in the recipe.
struct QuantizeOptions {
  QuantMethod method = QuantMethod::Bwa;

  // Calibration (method.md §2).
  std::string calib;      // file, or dataset name (calibration_datasets()); "" = model default
  std::string data_dir;   // "" = <shared>/data
  int nsamples = 128;
  int calib_ctx = 2048;   // clamped to the model context
  uint64_t seed = 0;

  // bwa weight switches (BinaryQuantConfig); group/outliers also used by gptq and billm.
  int group = 0;          // B; 0 = auto
  int outliers = -1;      // K; -1 = auto
  ClusterMethod cluster = ClusterMethod::EM;
  Compensation compensation = Compensation::Block;
  bool bitmap = true, hessian_weighted = true, min_distance = true;
  int em_iters = 20;
  double percdamp = 0.01;
  // Paper Table 5 rung 0..5: 0..4 = ladder_config(rung) with plain INT4 activations,
  // 5 = rung 4 + the paper's scale balancing (= the full method). -1: use the switches above.
  int ladder_rung = -1;

  // Activations and KV (method.md §4, §6). Unset = the method's default:
  // balance: paper for bwa (rung 5 / no rung), none otherwise;
  // abits: 4, except billm and fp 16 (= activations not quantized);
  // kv_bits: 4 when activations are quantized, else 32.
  std::optional<Balance> balance;
  int abits = 0;
  int wbits = 0;          // rtn / gptq weight bits; 0 = 4 for gptq, 2 for rtn
  int kv_bits = 0;
  int outlier_abits = 8;  // activation bits of the outlier channels

  // How the already-quantized layers run while later ones are calibrated. Simulated (double
  // precision, the reference) by default; Bitwise runs the AND/popcount kernels, which compute
  // the same numbers (tests/kernels) several times faster on large models. Dense layers always
  // run simulated.
  BinqRuntime calib_runtime = BinqRuntime::Simulated;
  // Calibration only: run W(1+1) layers as dequantized FP32 weights through sgemm with the same
  // activation quantizer (FakeQuantLinear) instead of the double-precision simulation; about 2x
  // cheaper on large layers, differs from it only by float rounding.
  bool calib_float = false;

  // Progress and diagnostics (one line each, no newline); empty = silent.
  std::function<void(const std::string&)> log;
};

// Paper sizes where the width allows them, scaled down for small widths (method.md §10):
//   B = min(128, width);  K = min(128, ceil(width / 32))  (the paper's 128 of 4096 = 1/32).
int default_group_size(int width);
int default_outliers(int width);

// Named calibration texts under <data_dir> (training or validation splits, never test):
//   wikitext2 -> wikitext-2-raw/wiki.train.raw.prefix.txt, tinystories ->
//   tinystories/tinystories_train.txt, wikitext2-full -> wikitext-2/train.shuffled_chunks.txt,
//   ptb -> ptb/ptb.valid.txt.
std::vector<std::string> calibration_datasets();
// The file `calib` names (a dataset name or an existing file); "" = tinystories for 512-token
// vocabularies (llama2.c TinyStories checkpoints), wikitext2 otherwise. Fails naming --calib.
std::string resolve_calibration_path(const std::string& calib, const std::string& data_dir, int vocab_size);

// Tokenized calibration text. Texts with "<|endoftext|>" separators (TinyStories) are encoded
// one document at a time with a BOS each, as those models were trained; others as one BOS text.
std::vector<int> tokenize_calibration_text(const std::string& path, const Tokenizer& tok);

// Checks the options against each other and the model (flag names in every message), and fills
// in the method defaults. Called by quantize_model; exposed for the CLI to fail before loading.
QuantizeOptions resolve_options(QuantizeOptions o);
void check_sizes_for_model(const QuantizeOptions& o, const ModelConfig& c);

// The full pipeline: tokenizes the calibration text, samples windows and quantizes every block.
QuantizedModel quantize_model(const std::shared_ptr<const ModelWeights>& fp, const Tokenizer& tok,
                              const QuantizeOptions& options);
// Same with an already tokenized calibration text (`source` names it in the recipe); lets a
// caller that quantizes many variants (binq report) tokenize once.
QuantizedModel quantize_model(const std::shared_ptr<const ModelWeights>& fp, const std::vector<int>& calib_tokens,
                              const std::string& source, const QuantizeOptions& options);

// Sum of all bits of all linears / number of linear weights (Binary: bits_per_weight of its
// params, Dense: nominal_bits).
double linear_bits_per_weight(const QuantizedModel& m);

// A LlamaModel that runs `m` in simulation (make_quantized_linear(..., Simulated)) with the
// recipe's KV bits: what `binq perplexity --model FILE.binq --simulate` runs, without a file.
std::shared_ptr<LlamaModel> simulated_model(const QuantizedModel& m);

}  // namespace binq
