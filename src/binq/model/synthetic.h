// Random-weight models with real shapes, for speed and memory measurements only (never accuracy).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "binq/model/weights.h"

namespace binq {

// Known shapes: "tinyllama-1.1b", "llama-7b", "llama2-7b", "stories260k-shape", "tiny" (for tests).
ModelConfig synthetic_config(const std::string& shape);
std::vector<std::string> synthetic_shape_names();

// Weights ~ U(-a, a) with a = sqrt(3/fan_in) (unit-variance outputs), norms 1. Deterministic in seed.
// With linears == false the linear layers get their shapes but no data (for quantized stand-ins).
std::shared_ptr<ModelWeights> make_synthetic_weights(const ModelConfig& config, uint64_t seed, bool linears = true);

}  // namespace binq
