#include "binq/kernels/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <mutex>

#include "binq/core/error.h"
#include "binq/kernels/kernel_table.h"

namespace binq {
namespace {

std::mutex g_mutex;
std::atomic<int> g_active{-1};  // -1: not chosen yet
std::atomic<int> g_limit{int(Isa::Avx512)};

Isa choose_from_env() {
  const char* env = std::getenv("BINQ_ISA");
  if (env == nullptr || *env == '\0') return detect_isa();
  Isa isa = parse_isa(env, "environment variable BINQ_ISA");
  if (!isa_supported(isa))
    fail("BINQ_ISA={} is not supported by this CPU (best available: {})", env,
         isa_name(detect_isa()));
  return isa;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

Isa parse_isa(const std::string& name, const char* what) {
  if (name == "scalar") return Isa::Scalar;
  if (name == "avx2") return Isa::Avx2;
  if (name == "avx512") return Isa::Avx512;
  fail("{}: unknown ISA '{}' (expected scalar, avx2 or avx512)", what, name);
}

void limit_isa_for_testing(Isa max) { g_limit.store(int(max)); }

bool isa_supported(Isa isa) {
  __builtin_cpu_init();
  if (int(isa) > g_limit.load()) return false;
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
    case Isa::Avx512:
      return isa_supported(Isa::Avx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vpopcntdq") &&
             __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512ifma");
  }
  return false;
}

Isa detect_isa() {
  if (isa_supported(Isa::Avx512)) return Isa::Avx512;
  if (isa_supported(Isa::Avx2)) return Isa::Avx2;
  return Isa::Scalar;
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

Isa active_isa() {
  int v = g_active.load(std::memory_order_acquire);
  if (v >= 0) return static_cast<Isa>(v);
  std::lock_guard<std::mutex> lock(g_mutex);
  v = g_active.load(std::memory_order_relaxed);
  if (v < 0) {
    v = static_cast<int>(choose_from_env());
    g_active.store(v, std::memory_order_release);
  }
  return static_cast<Isa>(v);
}

void force_isa(Isa isa) {
  if (!isa_supported(isa))
    fail("cannot force ISA {}: not supported by this CPU (best available: {})", isa_name(isa),
         isa_name(detect_isa()));
  g_active.store(static_cast<int>(isa), std::memory_order_release);
}

void reset_isa() { g_active.store(-1, std::memory_order_release); }

const KernelTable& kernel_table(Isa isa) {
  if (!isa_supported(isa))
    fail("kernels for ISA {} requested but this CPU does not support it", isa_name(isa));
  switch (isa) {
    case Isa::Scalar: return detail::table_scalar();
    case Isa::Avx2: return detail::table_avx2();
    case Isa::Avx512: return detail::table_avx512();
  }
  return detail::table_scalar();
}

const KernelTable& kernel_table() { return kernel_table(active_isa()); }

}  // namespace binq
