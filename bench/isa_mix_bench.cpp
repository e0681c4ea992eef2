// Throughput of the AVX-512 instructions the bitwise and INT8 kernels are built from, in
// billions of instructions per second of CPU time (ratios between rows are what matter; multiply by the clock for
// per-cycle figures). It backs the instruction-count argument in docs/format.md ("Integer
// accumulation"): the bitwise GEMM issues 24 VPOPCNTQ + 12 VPMADD52LUQ per 8 rows x 128 inputs x
// token, where a W8A8 kernel issues 16 VPDPBUSD, so whether those instructions share execution
// ports decides which one wins at large batch. The mixes with VPANDQ and VCVTPS2QQ show which
// instructions of the kernel's loop run beside VPOPCNTQ and which take its ports: on Zen 4 the
// AND runs beside it and the conversion does not, and about two 512-bit instructions issue per
// cycle in all, so the kernel saves conversions, multiplies and broadcasts wherever it can.
//   ./build/bench/isa_mix_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include "binq/kernels/dispatch.h"
#include "isa_mix.h"

namespace {

using binq::isa_mix::Kind;

void BM_Mix(benchmark::State& state, Kind kind) {
  if (!binq::isa_supported(binq::Isa::Avx512)) {
    state.SkipWithError("this CPU lacks the AVX-512 subset binq uses (VPOPCNTDQ, VNNI, IFMA)");
    return;
  }
  const int64_t iters = 1 << 20;
  for (auto _ : state) benchmark::DoNotOptimize(binq::isa_mix::run(kind, iters));
  // Shown as "Ginstr=x/s": billions of instructions per second of CPU time.
  state.counters["Ginstr"] = benchmark::Counter(double(iters) * binq::isa_mix::kOpsPerIter / 1e9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK_CAPTURE(BM_Mix, vpopcntq, Kind::Popcnt);
BENCHMARK_CAPTURE(BM_Mix, vpmadd52luq, Kind::Madd52);
BENCHMARK_CAPTURE(BM_Mix, vpopcntq_and_vpmadd52luq_1to1, Kind::PopcntMadd52);
BENCHMARK_CAPTURE(BM_Mix, vpdpbusd, Kind::Dpbusd);
BENCHMARK_CAPTURE(BM_Mix, vfmadd_pd, Kind::Fma);
BENCHMARK_CAPTURE(BM_Mix, vpandq, Kind::And);
BENCHMARK_CAPTURE(BM_Mix, vcvtps2qq, Kind::Cvt);
BENCHMARK_CAPTURE(BM_Mix, vpopcntq_and_vpandq_1to1, Kind::PopcntAnd);
BENCHMARK_CAPTURE(BM_Mix, vpopcntq_and_vcvtps2qq_1to1, Kind::PopcntCvt);

}  // namespace
