// Calibration data: random windows of a calibration text (GPTQ's sampling), and the layer-by-layer
// driver that feeds each decoder block the outputs of the already-quantized blocks before it.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "binq/model/llama.h"

namespace binq {

struct CalibrationOptions {
  std::string text_path;   // file to sample from
  int nsamples = 128;
  int ctx = 2048;          // clamped to the model context
  uint64_t seed = 0;
};

// `nsamples` windows of `ctx` tokens at uniformly random starts (seeded), from the tokenized text.
// Fails naming the file if the text is shorter than one window.
std::vector<std::vector<int>> sample_calibration_windows(const std::vector<int>& tokens, int nsamples,
                                                         int ctx, uint64_t seed, const std::string& source);

// Hidden states of all calibration windows entering one decoder block, stored as FP16 to halve
// the memory of the largest object the quantizer holds ([windows x ctx x dim]).
class CalibrationActivations {
 public:
  CalibrationActivations(int windows, int ctx, int dim);
  int windows() const { return windows_; }
  int ctx() const { return ctx_; }
  int dim() const { return dim_; }
  void load(int window, float* x) const;         // x: [ctx x dim]
  void store(int window, const float* x);
  size_t bytes() const { return data_.size() * sizeof(uint16_t); }

 private:
  int windows_, ctx_, dim_;
  std::vector<uint16_t> data_;
};

// Embeds the windows: the input of block 0.
CalibrationActivations embed_windows(const LlamaModel& model, const std::vector<std::vector<int>>& windows);

// Runs block `layer` of `model` on every window in place (input of block l -> input of block l+1).
void run_block_on_windows(const LlamaModel& model, int layer, CalibrationActivations& acts);

// Runs block `layer` on every window with `model`'s input hook set to `hook` (outputs discarded).
// With `stop_after`, each window stops as soon as that linear's input has been observed: what
// follows it in the block cannot change the observation (the sequential driver observes one
// group at a time, so e.g. the q/k/v pass skips attention and the whole FFN).
void observe_block(LlamaModel& model, int layer, const CalibrationActivations& acts, LinearInputHook hook,
                   std::optional<LinearKind> stop_after = std::nullopt);

}  // namespace binq
