#include "binq/io/checkpoint.h"

#include "binq/core/error.h"
#include "binq/core/paths.h"
#include "binq/io/io_util.h"

namespace binq {

void check_loaded_weights(const ModelWeights& weights) {
  weights.validate();
  // A NaN/Inf weight poisons every logit downstream; refusing at load time names the culprit
  // instead of leaving a NaN perplexity to be debugged later.
  const std::string bad = weights.find_non_finite();
  if (!bad.empty())
    fail("{}: tensor '{}' contains NaN or Inf values; refusing to load a corrupt checkpoint", weights.source, bad);
}

std::shared_ptr<ModelWeights> load_checkpoint(const std::string& path, LinearLoading linears) {
  if (!path_exists(path)) fail("{}: checkpoint not found", path);
  return is_directory(path) ? load_hf_directory(path, linears) : load_llama2c(path, linears);
}

namespace io_detail {

void require_fp32_data(const ModelWeights& w, const std::string& target) {
  for (size_t l = 0; l < w.layers.size(); ++l)
    for (int k = 0; k < kLinearKinds; ++k)
      if (!w.layers[l].linear[k].data)
        fail("{}: layer {} {} has no FP32 weights (quantized model?); only float checkpoints can be written", target,
             l, linear_name(LinearKind(k)));
  if (!w.output.data) fail("{}: the output head has no FP32 weights", target);
}

}  // namespace io_detail

}  // namespace binq
