// Layer-by-layer (sequential) quantization driver, as GPTQ / BiLLM / Atom do it: block l is
// calibrated on the outputs of blocks 0..l-1 already quantized, and inside a block the linears
// are quantized in data-flow order {q,k,v} -> {o} -> {gate,up} -> {down}, each group's Hessian
// taken with the groups before it already quantized ("true sequential").
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "binq/model/llama.h"
#include "binq/quant/calibration.h"

namespace binq {

// Quantizes the linears of one input group. The group shares its input, so it shares one
// Hessian H = (2/N) sum x x^T ([in x in], row-major, undamped) and one channel order.
class GroupQuantizer {
 public:
  virtual ~GroupQuantizer() = default;
  // Returns the replacements for the linears `kinds` of block `layer` (same order), whose FP32
  // weights are in `weights`. Preparing H (order, damping, Cholesky) once per group is the
  // implementation's job; H is handed over so that it can be permuted and factored in place
  // (at width 11008 each [in x in] copy is ~1 GB).
  virtual std::vector<std::shared_ptr<const Linear>> quantize_group(int layer, const std::vector<LinearKind>& kinds,
                                                                    const BlockLinears& weights,
                                                                    std::vector<double> H) = 0;
};

struct SequentialProgress {
  int layer = 0, layers = 0;
  double elapsed_s = 0, eta_s = 0;
};

// Quantizes every block of `model` and advances `acts` through each quantized block.
// `progress` is called after every block. Memory stays bounded by one block: block l's FP32
// linears are loaded (block_linears) when it starts, and once `acts` has been advanced through
// it both they and its calibration-time replacements are released (set_linear(nullptr)), so
// on return the model has no linear layers left; the quantizer keeps the results.
void quantize_sequential(LlamaModel& model, CalibrationActivations& acts, GroupQuantizer& quantizer,
                         const std::function<void(const SequentialProgress&)>& progress = {});

}  // namespace binq
