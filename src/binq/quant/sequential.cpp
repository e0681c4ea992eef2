#include "binq/quant/sequential.h"

#include <chrono>

#include "binq/quant/hessian.h"

namespace binq {

void quantize_sequential(LlamaModel& model, CalibrationActivations& acts, GroupQuantizer& quantizer,
                         const std::function<void(const SequentialProgress&)>& progress) {
  const int layers = model.config().n_layers;
  auto start = std::chrono::steady_clock::now();
  for (int l = 0; l < layers; ++l) {
    const BlockLinears fp = block_linears(model.weights(), l);
    for (int k = 0; k < kLinearKinds; ++k) model.set_linear({l, LinearKind(k)}, std::make_shared<DenseLinear>(fp.linear[k]));
    for (const auto& group : linear_groups()) {
      const LinearKind first = group.front();
      const int width = model.linear({l, first}).in_features();
      std::vector<double> H;
      {  // H is built in the accumulator's storage: one [width x width] matrix at a time
        HessianAccumulator acc(width);
        // Only the group's first linear is observed: the others read the very same input.
        observe_block(
            model, l, acts,
            [&](LinearId id, const float* x, int n, int) {
              if (id.layer == l && id.kind == first) acc.add(x, n);
            },
            first);
        H = acc.release();
      }
      auto replacements = quantizer.quantize_group(l, group, fp, std::move(H));
      for (size_t i = 0; i < group.size(); ++i) model.set_linear({l, group[i]}, std::move(replacements.at(i)));
    }
    run_block_on_windows(model, l, acts);
    // Block l has produced the next block's inputs and is never run again: free its replacements
    // (dense simulated weights, the largest per-block objects); `fp` goes out of scope with them.
    for (int k = 0; k < kLinearKinds; ++k) model.set_linear({l, LinearKind(k)}, nullptr);
    if (progress) {
      double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      progress({l + 1, layers, el, el / (l + 1) * (layers - l - 1)});
    }
  }
}

}  // namespace binq
