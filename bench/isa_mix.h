// Instruction-throughput probes for the AVX-512 instructions the kernels are built from.
#pragma once
#include <cstdint>

namespace binq::isa_mix {

enum class Kind { Popcnt, Madd52, Dpbusd, And, Fma, Cvt, PopcntMadd52, PopcntAnd, PopcntCvt };
inline constexpr int kOpsPerIter = 12;
// Runs `iters` iterations of kOpsPerIter independent instructions of `kind`; returns a checksum.
uint64_t run(Kind kind, int64_t iters);

}  // namespace binq::isa_mix
