// The GroupQuantizer of the pipeline: quantizes one input group (q/k/v, o, gate/up, down) of one
// block by the selected method, keeps the QuantizedLinear it produced, and hands the sequential
// driver the simulated layer (make_quantized_linear(..., Simulated)) so that the calibration of
// later groups and blocks sees exactly the quantizers used at evaluation time.
#pragma once
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "binq/quant/pipeline.h"
#include "binq/quant/sequential.h"

namespace binq {

// Sizes used for one input width (recorded in the recipe).
struct WidthSizes {
  int block = 0;     // B (bwa, billm)
  int outliers = 0;  // K (bwa, gptq)
};

class MethodGroupQuantizer : public GroupQuantizer {
 public:
  // `o` must come from resolve_options. `linears` receives one entry per linear
  // ([layer * kLinearKinds + kind]) and must outlive the quantizer.
  MethodGroupQuantizer(const QuantizeOptions& o, const ActivationRecipe& act, std::vector<QuantizedLinear>& linears);

  std::vector<std::shared_ptr<const Linear>> quantize_group(int layer, const std::vector<LinearKind>& kinds,
                                                            const BlockLinears& weights,
                                                            std::vector<double> H) override;

  WidthSizes sizes_for(int width) const;
  // {"64": {"B": 64, "K": 2}, ...} for the widths seen so far.
  nlohmann::json sizes_json() const;
  // Seconds spent inside the per-method weight quantization (Hessian preparation included).
  double weight_seconds() const { return weight_s_; }

 private:
  // Quantizes W by the method; a Binary layer is also returned unpacked in `binary`.
  QuantizedLinear quantize_one(const MatrixView& W, const std::string& name, const std::vector<int32_t>& perm,
                               const PreparedHessian* ph, int width, BinaryLinearParams& binary);
  QuantizeOptions o_;
  ActivationRecipe act_;
  std::vector<QuantizedLinear>& linears_;
  std::map<int, WidthSizes> seen_;
  double weight_s_ = 0;
};

// The BinaryQuantConfig of bwa for one width (ladder rung or switches, sizes resolved).
BinaryQuantConfig bwa_config(const QuantizeOptions& o, const WidthSizes& s);

}  // namespace binq
