#include "binq/quant/calibration.h"

#include <random>

#include "binq/core/error.h"
#include "binq/core/half.h"

namespace binq {

std::vector<std::vector<int>> sample_calibration_windows(const std::vector<int>& tokens, int nsamples,
                                                         int ctx, uint64_t seed, const std::string& source) {
  if (nsamples <= 0) fail("--nsamples must be positive (got {})", nsamples);
  if (ctx < 2) fail("--calib-ctx must be at least 2 (got {})", ctx);
  if (tokens.size() <= size_t(ctx))
    fail("{}: calibration text has {} tokens, need more than one window of {}", source, tokens.size(), ctx);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> start(0, tokens.size() - size_t(ctx) - 1);
  std::vector<std::vector<int>> windows(nsamples);
  for (auto& w : windows) {
    size_t s = start(rng);
    w.assign(tokens.begin() + s, tokens.begin() + s + ctx);
  }
  return windows;
}

CalibrationActivations::CalibrationActivations(int windows, int ctx, int dim)
    : windows_(windows), ctx_(ctx), dim_(dim), data_(size_t(windows) * ctx * dim) {}

void CalibrationActivations::load(int window, float* x) const {
  const uint16_t* src = data_.data() + size_t(window) * ctx_ * dim_;
  for (size_t i = 0; i < size_t(ctx_) * dim_; ++i) x[i] = fp16_to_float(src[i]);
}

void CalibrationActivations::store(int window, const float* x) {
  uint16_t* dst = data_.data() + size_t(window) * ctx_ * dim_;
  for (size_t i = 0; i < size_t(ctx_) * dim_; ++i) {
    if (!(std::abs(x[i]) < 65504.0f))
      fail("calibration window {}: hidden state {} overflows FP16 storage (|x| >= 65504)", window, x[i]);
    dst[i] = float_to_fp16(x[i]);
  }
}

CalibrationActivations embed_windows(const LlamaModel& model, const std::vector<std::vector<int>>& windows) {
  const int ctx = int(windows.at(0).size()), dim = model.config().dim;
  CalibrationActivations acts(int(windows.size()), ctx, dim);
  std::vector<float> x(size_t(ctx) * dim);
  for (size_t w = 0; w < windows.size(); ++w) {
    model.embed(windows[w].data(), ctx, x.data());
    acts.store(int(w), x.data());
  }
  return acts;
}

void run_block_on_windows(const LlamaModel& model, int layer, CalibrationActivations& acts) {
  std::vector<float> x(size_t(acts.ctx()) * acts.dim());
  KVCache cache = model.new_cache(acts.ctx());
  for (int w = 0; w < acts.windows(); ++w) {
    acts.load(w, x.data());
    model.forward_block(layer, x.data(), acts.ctx(), 0, cache);
    acts.store(w, x.data());
  }
}

namespace {
// Thrown from the input hook to leave forward_block early; the hook runs outside any OpenMP
// region (LlamaModel::run_linear calls it before the linear), so unwinding is safe.
struct StopBlock {};
}  // namespace

void observe_block(LlamaModel& model, int layer, const CalibrationActivations& acts, LinearInputHook hook,
                   std::optional<LinearKind> stop_after) {
  if (stop_after) {
    model.set_input_hook([&hook, layer, stop = *stop_after](LinearId id, const float* x, int n, int in) {
      hook(id, x, n, in);
      if (id.layer == layer && id.kind == stop) throw StopBlock{};
    });
  } else {
    model.set_input_hook(hook);
  }
  std::vector<float> x(size_t(acts.ctx()) * acts.dim());
  KVCache cache = model.new_cache(acts.ctx());
  try {
    for (int w = 0; w < acts.windows(); ++w) {
      acts.load(w, x.data());
      try {
        model.forward_block(layer, x.data(), acts.ctx(), 0, cache);
      } catch (const StopBlock&) {
      }
    }
  } catch (...) {
    model.set_input_hook({});
    throw;
  }
  model.set_input_hook({});
}

}  // namespace binq
