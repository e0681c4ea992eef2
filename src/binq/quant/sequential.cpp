#include "binq/quant/sequential.h"

#include <chrono>

#include "binq/quant/hessian.h"

namespace binq {

const std::vector<std::vector<LinearKind>>& linear_groups() {
  static const std::vector<std::vector<LinearKind>> groups = {
      {LinearKind::Q, LinearKind::K, LinearKind::V},
      {LinearKind::O},
      {LinearKind::Gate, LinearKind::Up},
      {LinearKind::Down}};
  return groups;
}

void quantize_sequential(LlamaModel& model, CalibrationActivations& acts, GroupQuantizer& quantizer,
                         const std::function<void(const SequentialProgress&)>& progress) {
  const int layers = model.config().n_layers;
  auto start = std::chrono::steady_clock::now();
  for (int l = 0; l < layers; ++l) {
    for (const auto& group : linear_groups()) {
      const LinearKind first = group.front();
      const int width = model.linear({l, first}).in_features();
      HessianAccumulator acc(width);
      // Only the group's first linear is observed: the others read the very same input.
      observe_block(
          model, l, acts,
          [&](LinearId id, const float* x, int n, int) {
            if (id.layer == l && id.kind == first) acc.add(x, n);
          },
          first);
      const std::vector<double> H = acc.finalize();
      auto replacements = quantizer.quantize_group(model, l, group, H);
      for (size_t i = 0; i < group.size(); ++i) model.set_linear({l, group[i]}, std::move(replacements.at(i)));
    }
    run_block_on_windows(model, l, acts);
    if (progress) {
      double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      progress({l + 1, layers, el, el / (l + 1) * (layers - l - 1)});
    }
  }
}

}  // namespace binq
