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
std::atomic<int> g_limit{int(Isa::Avx512)};  // limit_isa_for_testing

// BINQ_ISA_MAX, read once: the process treats the CPU as having nothing above it, so the whole
// test suite can run as it would on an older CPU (e.g. AVX2 only) on any machine.
Isa env_cap() {
  static const Isa cap = [] {
    const char* env = std::getenv("BINQ_ISA_MAX");
    return env == nullptr || *env == '\0' ? Isa::Avx512 : parse_isa(env, "environment variable BINQ_ISA_MAX");
  }();
  return cap;
}

// The CPU features each ISA's kernels use, beyond the previous ISA's.
struct Feature {
  const char* name;
  bool present;
};
std::vector<Feature> detect_features(Isa isa) {
  __builtin_cpu_init();
  switch (isa) {
    case Isa::Scalar: return {};
    case Isa::Avx2:
      return {{"avx2", bool(__builtin_cpu_supports("avx2"))}, {"fma", bool(__builtin_cpu_supports("fma"))},
              {"bmi2", bool(__builtin_cpu_supports("bmi2"))}, {"popcnt", bool(__builtin_cpu_supports("popcnt"))}};
    case Isa::Avx512:
      return {{"avx512f", bool(__builtin_cpu_supports("avx512f"))},
              {"avx512bw", bool(__builtin_cpu_supports("avx512bw"))},
              {"avx512vl", bool(__builtin_cpu_supports("avx512vl"))},
              {"avx512dq", bool(__builtin_cpu_supports("avx512dq"))},
              {"avx512vpopcntdq", bool(__builtin_cpu_supports("avx512vpopcntdq"))},
              {"avx512vnni", bool(__builtin_cpu_supports("avx512vnni"))},
              {"avx512ifma", bool(__builtin_cpu_supports("avx512ifma"))}};
  }
  return {};
}
// Detected once: isa_supported runs on every kernel_table() call (each linear of each token).
const std::vector<Feature>& own_features(Isa isa) {
  static const std::vector<Feature> f[3] = {detect_features(Isa::Scalar), detect_features(Isa::Avx2),
                                            detect_features(Isa::Avx512)};
  return f[int(isa)];
}
bool cpu_has(Isa isa) {
  for (Isa i = Isa::Scalar; int(i) <= int(isa); i = Isa(int(i) + 1))
    for (const Feature& f : own_features(i))
      if (!f.present) return false;
  return true;
}

Isa choose_from_env() {
  const char* env = std::getenv("BINQ_ISA");
  if (env == nullptr || *env == '\0') return detect_isa();
  Isa isa = parse_isa(env, "environment variable BINQ_ISA");
  if (!isa_supported(isa))
    fail("BINQ_ISA={} cannot run: {} (best available: {})", env, isa_unsupported_reason(isa),
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

std::string isa_unsupported_reason(Isa isa) {
  if (int(isa) > int(env_cap())) return fmt::format("masked by BINQ_ISA_MAX={}", isa_name(env_cap()));
  std::string missing;
  for (Isa i = Isa::Scalar; int(i) <= int(isa); i = Isa(int(i) + 1))
    for (const Feature& f : own_features(i))
      if (!f.present) missing += fmt::format("{}{}", missing.empty() ? "" : ", ", f.name);
  if (!missing.empty()) return fmt::format("this CPU lacks {}", missing);
  if (int(isa) > g_limit.load()) return "masked by limit_isa_for_testing";
  return "";
}

bool isa_supported(Isa isa) {
  return int(isa) <= int(env_cap()) && int(isa) <= g_limit.load() && cpu_has(isa);
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
    fail("cannot force ISA {}: {} (best available: {})", isa_name(isa), isa_unsupported_reason(isa),
         isa_name(detect_isa()));
  g_active.store(static_cast<int>(isa), std::memory_order_release);
}

void reset_isa() { g_active.store(-1, std::memory_order_release); }

const KernelTable& kernel_table(Isa isa) {
  if (!isa_supported(isa))
    fail("kernels for ISA {} requested but {}", isa_name(isa), isa_unsupported_reason(isa));
  switch (isa) {
    case Isa::Scalar: return detail::table_scalar();
    case Isa::Avx2: return detail::table_avx2();
    case Isa::Avx512: return detail::table_avx512();
  }
  return detail::table_scalar();
}

const KernelTable& kernel_table() { return kernel_table(active_isa()); }

}  // namespace binq
