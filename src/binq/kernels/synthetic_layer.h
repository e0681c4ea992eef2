// Random W(1+1) layers with real shapes: for kernel tests, benchmarks and `binq synth --binq`
// (speed and memory only: never accuracy).
#pragma once
#include <cstdint>

#include "binq/quant/binary_layer.h"

namespace binq {

// Random permutation, random sign/bitmap bits, FP16 parameters ~ N(0, 0.05), INT8 outliers with
// small FP16 scales. Deterministic in `seed`.
BinaryLinearParams random_binary_layer(int out, int in, int n_outliers, int block_size, uint64_t seed);

}  // namespace binq
