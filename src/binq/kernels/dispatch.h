// Run-time ISA selection for the CPU kernels. One kernel source per ISA (bitwise_scalar.cpp,
// bitwise_avx2.cpp, bitwise_avx512.cpp) fills one KernelTable; the active table is chosen once,
// on first use, from CPU detection (__builtin_cpu_supports) or the environment variable
// BINQ_ISA=scalar|avx2|avx512 (a forced ISA the CPU lacks fails with a clear binq::Error).
// BINQ_ISA_MAX=scalar|avx2 masks the ISAs above it, as if the CPU lacked them: the test suite
// run with BINQ_ISA_MAX=avx2 on an AVX-512 machine is the suite of an AVX2-only one.
// Tests may call force_isa() / kernel_table(Isa) to run every available path.
#pragma once
#include <string>
#include <vector>

namespace binq {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

const char* isa_name(Isa isa);
// Parses "scalar" / "avx2" / "avx512"; fails naming `what` otherwise.
Isa parse_isa(const std::string& name, const char* what);
// Whether this CPU can run the kernels of `isa` (avx512 needs F, BW, VL, DQ, VPOPCNTDQ, VNNI, IFMA)
// and nothing masks it (BINQ_ISA_MAX, limit_isa_for_testing).
bool isa_supported(Isa isa);
// Why `isa` cannot run ("this CPU lacks avx512vpopcntdq", "masked by BINQ_ISA_MAX=avx2"), or ""
// when it can.
std::string isa_unsupported_reason(Isa isa);
// The best ISA this CPU supports.
Isa detect_isa();
// All ISAs this CPU supports, scalar first.
std::vector<Isa> supported_isas();
// The ISA the kernels use: BINQ_ISA if set (validated), else detect_isa(). Chosen once.
Isa active_isa();
// Forces the active ISA (tests, benchmarks); fails if the CPU does not support it.
void force_isa(Isa isa);
// Test hook: pretend the CPU supports nothing above `max` (as if it were an older CPU), so the
// "forced ISA not supported" paths can be tested on any machine. Pass Isa::Avx512 to undo.
void limit_isa_for_testing(Isa max);
// Drops any forced ISA and re-reads BINQ_ISA / CPU detection on next use.
void reset_isa();

struct KernelTable;  // kernels/kernel_table.h
// Table of the active ISA / of a given ISA (fails if unsupported).
const KernelTable& kernel_table();
const KernelTable& kernel_table(Isa isa);

}  // namespace binq
