// Kernel benchmarks: bitwise W(1+1)A(1x4) GEMV/GEMM per ISA vs FP32 OpenBLAS and INT8 W8A8, on
// LLaMA-7B and TinyLlama-1.1B shapes, plus a DRAM read-bandwidth probe.
//
// Counters: GBps = weight bytes read per second (packed bytes for bitwise, INT8 bytes for W8A8,
// FP32 bytes for BLAS), GOPps = 2*out*in*n / time / 1e9. Weights rotate through copies totalling
// >= 128 MB (4x L3) so every call streams them from DRAM, as in real inference of a 7B model
// (set BINQ_BENCH_HOT=1 to reuse one copy instead). Activations are quantized outside the timed
// loop; BM_ActQuant times the activation quantizer separately.
//
// Quick run:  build-kern/bench/kernels_bench --benchmark_min_time=0.05
//             --benchmark_filter='MemBW|/4096x4096/|/11008x4096/'
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <immintrin.h>
#include <omp.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "binq/core/half.h"
#include "binq/kernels/act_quant.h"
#include "binq/kernels/aligned_buffer.h"
#include "binq/kernels/dispatch.h"
#include "binq/kernels/int8_linear.h"
#include "binq/kernels/packed_linear.h"

namespace binq {
namespace {

constexpr int64_t kColdBytes = int64_t(128) << 20;

struct Shape {
  const char* model;
  int out, in;
};
const Shape kShapes[] = {{"llama7b", 4096, 4096},   {"llama7b", 11008, 4096}, {"llama7b", 4096, 11008},
                         {"tinyllama", 2048, 2048}, {"tinyllama", 5632, 2048}, {"tinyllama", 2048, 5632}};
const int kBatches[] = {1, 8, 32, 128};

int copies_for(int64_t bytes) {
  if (std::getenv("BINQ_BENCH_HOT")) return 1;
  return int(std::max<int64_t>(1, (kColdBytes + bytes - 1) / bytes));
}

std::vector<float> random_floats(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (auto& f : v) f = nd(rng);
  return v;
}

// Random packed layer (B = 128, K = 128), packed once per shape and copied for rotation.
struct BinaryCase {
  int out = 0, in = 0;
  std::vector<PackedBinaryLinear> copies;
};
BinaryCase& binary_case(int out, int in) {
  static BinaryCase c;
  if (c.out == out && c.in == in) return c;
  c = BinaryCase{};
  BinaryLinearParams p;
  p.out_features = out;
  p.in_features = in;
  p.n_outliers = 128;
  p.block_size = 128;
  p.perm.resize(in);
  for (int i = 0; i < in; ++i) p.perm[i] = i;
  std::mt19937_64 rng(1);
  const int bw = in - 128, nb = (bw + 127) / 128;
  p.sign.resize(size_t(out) * bw);
  p.bitmap.resize(size_t(out) * bw);
  for (size_t i = 0; i < p.sign.size(); ++i) {
    const uint64_t r = rng();
    p.sign[i] = r & 1;
    p.bitmap[i] = (r >> 1) & 1;
  }
  for (auto* v : {&p.lo0, &p.d0, &p.lo1, &p.d1}) {
    *v = random_floats(size_t(out) * nb, 2, 0.02f);
    for (auto& f : *v) f = round_to_fp16(f);
  }
  p.outlier_w.resize(size_t(out) * 128);
  for (auto& w : p.outlier_w) w = int8_t(rng() % 255 - 127);
  p.outlier_scale.assign(out, round_to_fp16(0.01f));
  c.out = out;
  c.in = in;
  c.copies.push_back(pack(p));
  const int n = copies_for(c.copies[0].bytes());
  for (int i = 1; i < n; ++i) c.copies.push_back(c.copies[0]);
  return c;
}

void set_counters(benchmark::State& st, int64_t weight_bytes, int out, int in, int n) {
  st.counters["GBps"] = benchmark::Counter(1e-9 * double(weight_bytes), benchmark::Counter::kIsIterationInvariantRate);
  st.counters["GOPps"] = benchmark::Counter(2e-9 * double(out) * in * n, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Bitwise(benchmark::State& st, Shape s, int n, Isa isa) {
  BinaryCase& c = binary_case(s.out, s.in);
  const std::vector<float> x = random_floats(size_t(n) * s.in, 3, 1.0f);
  QuantizedActs qa;
  ActQuantConfig cfg;
  cfg.balance = Balance::LeastSquares;
  quantize_activations(x.data(), n, s.in, c.copies[0].perm.data(), 128, 128, cfg, qa);
  std::vector<float> y(size_t(n) * s.out);
  const KernelTable& kt = kernel_table(isa);
  size_t i = 0;
  for (auto _ : st) {
    binary_gemm(c.copies[i], qa, y.data(), &kt);
    benchmark::DoNotOptimize(y.data());
    i = (i + 1) % c.copies.size();
  }
  set_counters(st, c.copies[0].bytes(), s.out, s.in, n);
  st.counters["bits_per_w"] = c.copies[0].bits_per_weight();
}

void BM_Int8(benchmark::State& st, Shape s, int n, Isa isa) {
  const std::vector<float> w = random_floats(size_t(s.out) * s.in, 4, 0.02f);
  std::vector<Int8Linear> copies{quantize_int8_linear(w.data(), s.out, s.in)};
  for (int k = 1; k < copies_for(copies[0].bytes()); ++k) copies.push_back(copies[0]);
  const std::vector<float> x = random_floats(size_t(n) * s.in, 3, 1.0f);
  Int8Acts qa;
  quantize_int8_acts(x.data(), n, s.in, qa);
  std::vector<float> y(size_t(n) * s.out);
  const KernelTable& kt = kernel_table(isa);
  size_t i = 0;
  for (auto _ : st) {
    int8_gemm(copies[i], qa, y.data(), &kt);
    benchmark::DoNotOptimize(y.data());
    i = (i + 1) % copies.size();
  }
  set_counters(st, copies[0].bytes(), s.out, s.in, n);
}

void BM_Fp32Blas(benchmark::State& st, Shape s, int n) {
  const int64_t bytes = int64_t(s.out) * s.in * 4;
  std::vector<std::vector<float>> copies{random_floats(size_t(s.out) * s.in, 4, 0.02f)};
  for (int k = 1; k < copies_for(bytes); ++k) copies.push_back(copies[0]);
  const std::vector<float> x = random_floats(size_t(n) * s.in, 3, 1.0f);
  std::vector<float> y(size_t(n) * s.out);
  size_t i = 0;
  for (auto _ : st) {
    const float* W = copies[i].data();
    if (n == 1)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, s.out, s.in, 1.0f, W, s.in, x.data(), 1, 0.0f, y.data(), 1);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, s.out, s.in, 1.0f, x.data(), s.in, W, s.in,
                  0.0f, y.data(), s.out);
    benchmark::DoNotOptimize(y.data());
    i = (i + 1) % copies.size();
  }
  set_counters(st, bytes, s.out, s.in, n);
}

void BM_ActQuant(benchmark::State& st, int width, int n, Balance b) {
  const std::vector<float> x = random_floats(size_t(n) * width, 3, 1.0f);
  std::vector<int32_t> perm(width);
  for (int i = 0; i < width; ++i) perm[i] = (i * 17) % width;
  ActQuantConfig cfg;
  cfg.balance = b;
  QuantizedActs qa;
  for (auto _ : st) {
    quantize_activations(x.data(), n, width, perm.data(), 128, 128, cfg, qa);
    benchmark::DoNotOptimize(qa.planes.data());
  }
  st.counters["tokens_per_s"] = benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
}

// DRAM read bandwidth: AVX2 sum over a 1 GiB buffer (>> 32 MB L3), 1 or 2 threads.
__attribute__((target("avx2"))) float sum_avx2(const float* p, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i < n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
  }
  alignas(32) float t[8];
  _mm256_store_ps(t, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}

void BM_MemBW(benchmark::State& st, int threads) {
  const int64_t bytes = int64_t(1) << 30, n = bytes / 4;
  static AlignedBuffer buf;
  if (buf.size() != size_t(bytes)) {
    buf.resize(bytes);  // zero-filled: every page is touched
    float* f = reinterpret_cast<float*>(buf.data());
    for (int64_t i = 0; i < n; i += 1024) f[i] = 1.0f;
  }
  const float* f = reinterpret_cast<const float*>(buf.data());
  for (auto _ : st) {
    float total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
      const int nt = omp_get_num_threads(), id = omp_get_thread_num();
      const int64_t per = n / nt / 32 * 32;
      total += sum_avx2(f + id * per, id == nt - 1 ? n - id * per : per);
    }
    benchmark::DoNotOptimize(total);
  }
  st.counters["GBps"] = benchmark::Counter(1e-9 * double(bytes), benchmark::Counter::kIsIterationInvariantRate);
}

std::string fmt_name(const char* a, int n, const char* b) {
  return std::string(a) + std::to_string(n) + "/" + b;
}

int register_all() {
  for (int th : {1, 2})
    benchmark::RegisterBenchmark(("MemBW/threads:" + std::to_string(th)).c_str(), BM_MemBW, th)
        ->UseRealTime()->Unit(benchmark::kMillisecond);
  for (int n : {1, 32})
    for (Balance b : {Balance::None, Balance::LeastSquares})
      benchmark::RegisterBenchmark(fmt_name("ActQuant/4096/n:", n, balance_name(b)).c_str(), BM_ActQuant, 4096, n, b)
          ->UseRealTime()->Unit(benchmark::kMicrosecond);
  for (const Shape& s : kShapes) {
    const std::string shape = std::string(s.model) + "/" + std::to_string(s.out) + "x" + std::to_string(s.in);
    for (int n : kBatches) {
      const std::string tail = "/" + shape + "/n:" + std::to_string(n);
      for (Isa isa : supported_isas()) {
        if (isa == Isa::Scalar && n > 8) continue;  // the scalar fallback is slow; skip big batches
        benchmark::RegisterBenchmark(("Bitwise_" + std::string(isa_name(isa)) + tail).c_str(), BM_Bitwise, s, n, isa)
            ->UseRealTime()->Unit(benchmark::kMicrosecond);
      }
      for (Isa isa : supported_isas()) {
        if (isa == Isa::Scalar) continue;
        benchmark::RegisterBenchmark(("Int8_" + std::string(isa_name(isa)) + tail).c_str(), BM_Int8, s, n, isa)
            ->UseRealTime()->Unit(benchmark::kMicrosecond);
      }
      benchmark::RegisterBenchmark(("Fp32Blas" + tail).c_str(), BM_Fp32Blas, s, n)
          ->UseRealTime()->Unit(benchmark::kMicrosecond);
    }
  }
  return 0;
}

const int kRegistered = register_all();

}  // namespace
}  // namespace binq
