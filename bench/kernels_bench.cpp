// Kernel benchmarks: bitwise W(1+1)A(1x4) GEMV/GEMM per ISA vs FP32 OpenBLAS, our INT8 W8A8 kernel
// and oneDNN's INT8 matmul, on LLaMA-7B and TinyLlama-1.1B shapes, plus a DRAM read-bandwidth probe
// and INT4 KV attention.
//
// DnnlInt8 (bench/dnnl_int8.cpp) is the library INT8 baseline: oneDNN matmul, s8 activations x s8
// weights -> s32 (the same integers as int8_int_dots, checked at start-up on small shapes; the
// benchmark aborts if they differ), weights reordered once into the layout oneDNN picks, primitive
// created once, OpenMP threads as OMP_NUM_THREADS. It leaves out the O(n*out) dequantization to
// float that int8_gemm does. DNNL_VERBOSE=1 shows the implementation (start-up prints it too).
//
// Counters: GBps = weight bytes read per second (ALL packed bytes for bitwise: row tiles with
// headers, params, padding and outliers + the permutation; INT8 bytes for W8A8; oneDNN's reordered
// weight bytes for DnnlInt8; FP32 bytes for BLAS), frac_membw = GBps / the MemBW probe at the same
// thread count (measured once per process), GOPps = 2*out*in*n / time / 1e9. Weights rotate
// through copies totalling >= 128 MB (4x L3) so every call streams them from DRAM, as in real
// inference of a 7B model (BINQ_BENCH_HOT=1 reuses one copy). Activations are quantized outside
// the timed loop; ActQuant times the quantizer.
// Compare/<shape>/n:<n> times bitwise (best ISA), INT8 (best ISA), oneDNN INT8, BLAS and a bandwidth
// probe over as many bytes as the packed layer, interleaved in one loop on the same weights-in-DRAM
// regime, and reports times (*_us) and ratios (*_over_bitwise: < 1 means that kernel is faster than
// bitwise; *_frac_membw: fraction of the probe). The *_over_bitwise ratios are robust on a loaded
// machine; the fractions less so: on the Zen 5 VM the five kernels' own >= 128 MB of 4 KB pages
// cost page walks that slowed the in-loop probe to 7-38 GB/s, so read the bandwidth fraction from
// the kernels run alone (Bitwise_* with MemBW).
//
// Quick run (LLaMA-7B shapes, batch 1 and 128, best ISA only, compare + probes):
//   BINQ_BENCH_QUICK=1 OMP_NUM_THREADS=1 build/bench/kernels_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <immintrin.h>
#include <omp.h>

#include <chrono>
#include <cmath>
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
#include "binq/kernels/kv_int4.h"
#include "binq/kernels/packed_linear.h"
#include "binq/model/linear.h"
#include "dnnl_int8.h"

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

// DRAM read bandwidth: AVX2 sum over a 256 MB buffer (8x L3), 1 or 2 threads, in the regime of
// the kernels' rotating copies. It prefetches 16 KB ahead into L2, as the bitwise kernels prefetch
// 2 row tiles ahead. On the Zen 5 machine, with plain loads over 1 GiB, the probe read 25-32 GB/s on
// 1 thread while the 4096x4096 bitwise GEMV read its packed bytes at 35 GB/s (fractions above 1);
// prefetching over 128 MB it read 33-36 GB/s, over 1 GiB 26-27 (4 KB pages: probably a 1 GiB
// region's page tables outgrowing L2).
__attribute__((target("avx2"))) float sum_avx2(const float* p, int64_t n) {
  constexpr int64_t kAhead = 16384 / 4;  // floats
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i < n; i += 32) {
    if (i + kAhead < n) {
      _mm_prefetch(reinterpret_cast<const char*>(p + i + kAhead), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(p + i + kAhead + 16), _MM_HINT_T1);
    }
    a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
  }
  alignas(32) float t[8];
  _mm256_store_ps(t, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}

// Sum of n floats read by `threads` threads, one contiguous slice each.
float parallel_sum(const float* f, int64_t n, int threads) {
  float total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
  {
    const int nt = omp_get_num_threads(), id = omp_get_thread_num();
    const int64_t per = n / nt / 32 * 32;
    total += sum_avx2(f + id * per, id == nt - 1 ? n - id * per : per);
  }
  return total;
}

// 256 MB of floats (every page touched) for the bandwidth probes.
const float* probe_buffer(int64_t& n) {
  const int64_t bytes = 2 * kColdBytes;
  static AlignedBuffer buf;
  if (buf.size() != size_t(bytes)) {
    buf.resize(bytes);  // zero-filled: every page is touched
    float* f = reinterpret_cast<float*>(buf.data());
    for (int64_t i = 0; i < bytes / 4; i += 1024) f[i] = 1.0f;
  }
  n = bytes / 4;
  return reinterpret_cast<const float*>(buf.data());
}

// Read bandwidth (GB/s) of `threads` threads over the probe buffer, best of 3 (cached per count).
double membw_gbps(int threads) {
  static double cached[3] = {0, 0, 0};
  threads = std::min(std::max(threads, 1), 2);
  if (cached[threads] > 0) return cached[threads];
  int64_t n = 0;
  const float* f = probe_buffer(n);
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(parallel_sum(f, n, threads));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 4e-9 * double(n) / s);
  }
  return cached[threads] = best;
}

void set_counters(benchmark::State& st, int64_t weight_bytes, int out, int in, int n) {
  st.counters["GBps"] = benchmark::Counter(1e-9 * double(weight_bytes), benchmark::Counter::kIsIterationInvariantRate);
  st.counters["GOPps"] = benchmark::Counter(2e-9 * double(out) * in * n, benchmark::Counter::kIsIterationInvariantRate);
  // Fraction of the probe's bandwidth (real time; filled in when the state finishes).
  st.counters["frac_membw"] = benchmark::Counter(1e-9 * double(weight_bytes) / membw_gbps(omp_get_max_threads()),
                                                 benchmark::Counter::kIsIterationInvariantRate);
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

void BM_DnnlInt8(benchmark::State& st, Shape s, int n) {
  dnnl_int8_selfcheck();
  const std::vector<float> w = random_floats(size_t(s.out) * s.in, 4, 0.02f);
  const Int8Linear wl = quantize_int8_linear(w.data(), s.out, s.in);
  const std::vector<float> x = random_floats(size_t(n) * s.in, 3, 1.0f);
  Int8Acts qa;
  quantize_int8_acts(x.data(), n, s.in, qa);
  // Copies by the INT8 size (oneDNN's layout adds only padding and a compensation row).
  DnnlInt8 d(wl, n, copies_for(wl.bytes()));
  const int64_t bytes = d.weight_bytes();
  std::vector<int32_t> y(size_t(n) * s.out);
  size_t i = 0;
  for (auto _ : st) {
    d.run(qa, y.data(), i++);
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(st, bytes, s.out, s.in, n);
  st.SetLabel(d.impl());
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

// The FP16 output head of a packed model (vocab x dim), a quarter of the bytes a TinyLlama-sized
// packed model reads per decoded token.
void BM_Fp16Head(benchmark::State& st, Shape s, int n) {
  const int64_t bytes = int64_t(s.out) * s.in * 2;
  std::vector<uint16_t> w;
  for (float f : random_floats(size_t(s.out) * s.in, 4, 0.02f)) w.push_back(float_to_fp16(f));
  std::vector<Fp16Linear> copies;
  for (int k = 0; k < copies_for(bytes); ++k) copies.emplace_back(w, s.out, s.in);
  const std::vector<float> x = random_floats(size_t(n) * s.in, 3, 1.0f);
  std::vector<float> y(size_t(n) * s.out);
  size_t i = 0;
  for (auto _ : st) {
    copies[i].forward(x.data(), n, y.data());
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

void BM_MemBW(benchmark::State& st, int threads) {
  int64_t n = 0;
  const float* f = probe_buffer(n);
  for (auto _ : st) {
    benchmark::DoNotOptimize(parallel_sum(f, n, threads));
  }
  st.counters["GBps"] = benchmark::Counter(4e-9 * double(n), benchmark::Counter::kIsIterationInvariantRate);
}

// Bitwise (best ISA) vs INT8 (best ISA) vs oneDNN INT8 vs BLAS, interleaved in one loop; ratios
// *_over_bitwise > 1: bitwise faster.
void BM_Compare(benchmark::State& st, Shape s, int n) {
  dnnl_int8_selfcheck();
  BinaryCase& c = binary_case(s.out, s.in);
  const std::vector<float> x = random_floats(size_t(n) * s.in, 3, 1.0f);
  QuantizedActs qa;
  ActQuantConfig cfg;
  cfg.balance = Balance::LeastSquares;
  quantize_activations(x.data(), n, s.in, c.copies[0].perm.data(), 128, 128, cfg, qa);
  const std::vector<float> w = random_floats(size_t(s.out) * s.in, 4, 0.02f);
  std::vector<Int8Linear> i8{quantize_int8_linear(w.data(), s.out, s.in)};
  for (int k = 1; k < copies_for(i8[0].bytes()); ++k) i8.push_back(i8[0]);
  Int8Acts ia;
  quantize_int8_acts(x.data(), n, s.in, ia);
  DnnlInt8 dnnl(i8[0], n, int(i8.size()));  // oneDNN's layout is the INT8 size plus padding
  const int64_t dnnl_bytes = dnnl.weight_bytes();
  std::vector<int32_t> yi(size_t(n) * s.out);
  std::vector<std::vector<float>> fw{w};
  for (int k = 1; k < copies_for(int64_t(s.out) * s.in * 4); ++k) fw.push_back(w);
  std::vector<float> y(size_t(n) * s.out);
  const KernelTable& kt = kernel_table(detect_isa());
  // The bandwidth probe runs in the same loop, over as many bytes as the packed layer (a slice of
  // 256 MB, moving on every iteration so it comes from DRAM): this machine's bandwidth changes with
  // its neighbours' load, so the fraction is taken against the probe of the same moment.
  int64_t probe_n = 0;
  const float* probe = probe_buffer(probe_n);
  const int64_t pn = c.copies[0].bytes() / 4 / 64 * 64;
  double tb = 0, ti = 0, td = 0, tf = 0, tp = 0;
  size_t i = 0;
  using clk = std::chrono::steady_clock;
  for (auto _ : st) {
    const auto tp0 = clk::now();
    benchmark::DoNotOptimize(parallel_sum(probe + int64_t(i) * pn % (probe_n - pn) / 64 * 64, pn, omp_get_max_threads()));
    const auto t0 = clk::now();
    tp += std::chrono::duration<double>(t0 - tp0).count();
    binary_gemm(c.copies[i % c.copies.size()], qa, y.data(), &kt);
    const auto t1 = clk::now();
    int8_gemm(i8[i % i8.size()], ia, y.data(), &kt);
    const auto t2a = clk::now();
    dnnl.run(ia, yi.data(), i);
    const auto t2 = clk::now();
    const float* W = fw[i % fw.size()].data();
    if (n == 1)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, s.out, s.in, 1.0f, W, s.in, x.data(), 1, 0.0f, y.data(), 1);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, s.out, s.in, 1.0f, x.data(), s.in, W, s.in,
                  0.0f, y.data(), s.out);
    const auto t3 = clk::now();
    tb += std::chrono::duration<double>(t1 - t0).count();
    ti += std::chrono::duration<double>(t2a - t1).count();
    td += std::chrono::duration<double>(t2 - t2a).count();
    tf += std::chrono::duration<double>(t3 - t2).count();
    ++i;
  }
  const double it = double(std::max<size_t>(i, 1));
  st.counters["bitwise_us"] = 1e6 * tb / it;
  st.counters["int8_us"] = 1e6 * ti / it;
  st.counters["dnnl_us"] = 1e6 * td / it;
  st.counters["blas_us"] = 1e6 * tf / it;
  st.counters["int8_over_bitwise"] = ti / tb;
  st.counters["dnnl_over_bitwise"] = td / tb;
  st.counters["blas_over_bitwise"] = tf / tb;
  st.counters["bitwise_GOPps"] = 2e-9 * double(s.out) * s.in * n * it / tb;
  st.counters["probe_GBps"] = 4e-9 * double(pn) * it / tp;
  // Packed bytes per second over the probe's bytes per second: tp / tb, the probe reading as many bytes.
  st.counters["bitwise_frac_membw"] = (4.0 * double(pn) / double(c.copies[0].bytes())) * tp / tb;
  st.counters["blas_frac_membw"] = 4.0 * double(s.out) * s.in / tf / (4.0 * double(pn) / tp);
  st.counters["dnnl_frac_membw"] = double(dnnl_bytes) / td / (4.0 * double(pn) / tp);
  st.SetLabel("dnnl " + dnnl.impl());
}

// INT4 KV attention of one query head over n_pos positions (head_dim 128, 8 KV heads).
void BM_KvAttend(benchmark::State& st, int n_pos, Isa isa) {
  const int heads = 8, hd = 128;
  KvInt4Cache cache(1, n_pos, heads, hd);
  const std::vector<float> k = random_floats(size_t(n_pos) * heads * hd, 5, 1.0f);
  const std::vector<float> v = random_floats(size_t(n_pos) * heads * hd, 6, 1.0f);
  cache.store(0, 0, n_pos, k.data(), v.data());
  const std::vector<float> q = random_floats(hd, 7, 1.0f);
  std::vector<float> s(n_pos), out(hd);
  const KernelTable& kt = kernel_table(isa);
  for (auto _ : st) {
    for (int h = 0; h < heads; ++h) cache.attend(0, h, q.data(), n_pos, 0.088f, s.data(), out.data(), &kt);
    benchmark::DoNotOptimize(out.data());
  }
  st.counters["GBps"] = benchmark::Counter(1e-9 * double(cache.bytes()), benchmark::Counter::kIsIterationInvariantRate);
}

std::string fmt_name(const char* a, int n, const char* b) {
  return std::string(a) + std::to_string(n) + "/" + b;
}

int register_all() {
  const bool quick = std::getenv("BINQ_BENCH_QUICK") != nullptr;
  for (int th : {1, 2})
    benchmark::RegisterBenchmark(("MemBW/threads:" + std::to_string(th)).c_str(), BM_MemBW, th)
        ->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);
  for (int n : {1, 32})
    for (Balance b : {Balance::None, Balance::Paper, Balance::LeastSquares})
      benchmark::RegisterBenchmark(fmt_name("ActQuant/4096/n:", n, balance_name(b)).c_str(), BM_ActQuant, 4096, n, b)
          ->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);
  for (const Shape& s : {Shape{"tinyllama", 32000, 2048}, Shape{"llama7b", 32000, 4096}})
    for (int n : {1, 4, 8, 32, 128})
      benchmark::RegisterBenchmark(("Fp16Head/" + std::string(s.model) + "/" + std::to_string(s.out) + "x" +
                                    std::to_string(s.in) + "/n:" + std::to_string(n)).c_str(), BM_Fp16Head, s, n)
          ->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);
  for (int np : {512, 4096})
    for (Isa isa : supported_isas())
      benchmark::RegisterBenchmark(("KvAttend_" + std::string(isa_name(isa)) + "/pos:" + std::to_string(np)).c_str(),
                                   BM_KvAttend, np, isa)
          ->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);
  for (const Shape& s : kShapes) {
    if (quick && std::string(s.model) != "llama7b") continue;
    const std::string shape = std::string(s.model) + "/" + std::to_string(s.out) + "x" + std::to_string(s.in);
    for (int n : kBatches) {
      if (quick && n != 1 && n != 128) continue;
      const std::string tail = "/" + shape + "/n:" + std::to_string(n);
      benchmark::RegisterBenchmark(("Compare" + tail).c_str(), BM_Compare, s, n)
          ->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);
      for (Isa isa : supported_isas()) {
        if (isa == Isa::Scalar && n > 8) continue;  // the scalar fallback is slow; skip big batches
        if (quick && isa != detect_isa()) continue;
        benchmark::RegisterBenchmark(("Bitwise_" + std::string(isa_name(isa)) + tail).c_str(), BM_Bitwise, s, n, isa)
            ->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);
      }
      for (Isa isa : supported_isas()) {
        if (isa == Isa::Scalar || (quick && isa != detect_isa())) continue;
        benchmark::RegisterBenchmark(("Int8_" + std::string(isa_name(isa)) + tail).c_str(), BM_Int8, s, n, isa)
            ->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);
      }
      benchmark::RegisterBenchmark(("DnnlInt8" + tail).c_str(), BM_DnnlInt8, s, n)
          ->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);
      benchmark::RegisterBenchmark(("Fp32Blas" + tail).c_str(), BM_Fp32Blas, s, n)
          ->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);
    }
  }
  return 0;
}

const int kRegistered = register_all();

}  // namespace
}  // namespace binq
