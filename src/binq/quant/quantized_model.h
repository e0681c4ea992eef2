// A quantized model as the quantizer produces it and a .binq file stores it (docs/format.md):
// the floating-point parts of the checkpoint (embeddings, norms, head: stored FP16) plus one
// QuantizedLinear per linear layer, the activation/KV recipe, and the tokenizer embedded.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "binq/kernels/act_quant.h"
#include "binq/model/llama.h"
#include "binq/quant/binary_layer.h"
#include "binq/quant/compact_binary_linear.h"

namespace binq {

// Both kinds are held as compactly as the file stores them: a model's worth of them sits in
// memory until write_binq.
struct QuantizedLinear {
  enum class Kind {
    Binary,  // W(1+1): really packed (sign + bitmap bits, FP16 params, INT8 outliers)
    Dense,   // baselines (RTN / GPTQ-uniform / BiLLM): dequantized weights stored as FP16 and
             // run in simulation; the nominal bits of their format are in `nominal_bits`
  };
  Kind kind = Kind::Binary;
  CompactBinaryLinear binary;     // Kind::Binary (binary.unpack() for the one-byte-per-bit form)
  int out_features = 0, in_features = 0;
  std::vector<uint16_t> dense;    // Kind::Dense: FP16 bits, [out x in] in PERMUTED column order
  std::vector<int32_t> perm;      // Kind::Dense: [in] (identity when not reordered)
  int n_outliers = 0;             // Kind::Dense: last K permuted channels get INT8 activations
  double nominal_bits = 0;        // Kind::Dense: bits/weight of the baseline's own format
};

// How activations and the KV cache are quantized at every linear input (method.md §4, §6).
struct ActivationRecipe {
  bool quantize = true;  // false = A16 (activations stay floating point)
  ActQuantConfig config; // bits, balancing, outlier bits
  int kv_bits = 4;       // 32 = FP32 KV cache
};

struct QuantizedModel {
  std::shared_ptr<const ModelWeights> base;  // FP parts; its linear MatrixViews are not stored
  ActivationRecipe activations;
  std::vector<QuantizedLinear> linears;      // [layer * kLinearKinds + kind]
  nlohmann::json recipe;                     // method, switches, calibration: for inspect/report
  std::string tokenizer_path;                // embedded in the file when non-empty
};

enum class BinqRuntime {
  Bitwise,    // AND/popcount kernels for Binary layers (the default)
  Simulated,  // dequantized weights x fake-quantized activations, in floats
};

// The Linear that runs `q` under `act`: BitwiseLinear / SimulatedBinaryLinear for Binary layers,
// a fake-quantizing dense layer for Dense ones. The quantizer uses the Simulated form during
// calibration, so calibration and evaluation apply exactly the same quantizers.
std::shared_ptr<const Linear> make_quantized_linear(const QuantizedLinear& q, const ActivationRecipe& act,
                                                    BinqRuntime runtime);
// The same for a Binary layer given unpacked (what the quantizer has just produced).
std::shared_ptr<const Linear> make_binary_linear(const BinaryLinearParams& p, const ActivationRecipe& act,
                                                 BinqRuntime runtime);

// Writes the model atomically; FP parts are rounded to FP16 as stored.
void write_binq(const QuantizedModel& model, const std::string& path);

struct LoadedBinq {
  std::shared_ptr<LlamaModel> model;      // linears replaced, kv bits set
  nlohmann::json header;                  // the whole .binq header (model, quant, blobs)
  std::string tokenizer_bytes;            // embedded tokenizer file ("" if none)
  int64_t file_bytes = 0;
};
LoadedBinq load_binq(const std::string& path, BinqRuntime runtime);

bool is_binq_file(const std::string& path);  // by magic

}  // namespace binq
