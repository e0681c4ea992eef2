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
  // Returns the replacements for the linears `kinds` of block `layer` (same order); their FP32
  // weights are in model.weights(). Preparing H (order, damping, Cholesky) once per group is
  // the implementation's job.
  virtual std::vector<std::shared_ptr<const Linear>> quantize_group(const LlamaModel& model, int layer,
                                                                    const std::vector<LinearKind>& kinds,
                                                                    const std::vector<double>& H) = 0;
};

struct SequentialProgress {
  int layer = 0, layers = 0;
  double elapsed_s = 0, eta_s = 0;
};

// The input groups of a decoder block in data-flow order.
const std::vector<std::vector<LinearKind>>& linear_groups();

// Quantizes every block of `model` in place (set_linear) and advances `acts` through each
// quantized block. `progress` is called after every block.
void quantize_sequential(LlamaModel& model, CalibrationActivations& acts, GroupQuantizer& quantizer,
                         const std::function<void(const SequentialProgress&)>& progress = {});

}  // namespace binq
