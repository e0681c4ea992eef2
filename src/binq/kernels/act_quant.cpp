#include "binq/kernels/act_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <utility>

#include "binq/core/error.h"
#include "binq/kernels/act_quant_kernels.h"

namespace binq {
namespace {


void check_config(const ActQuantConfig& cfg, const char* who) {
  if (cfg.bits < 1 || cfg.bits > 8) fail("{}: activation bits must be 1..8, got {}", who, cfg.bits);
  if (cfg.outlier_bits < 2 || cfg.outlier_bits > 8)
    fail("{}: outlier bits must be 2..8, got {}", who, cfg.outlier_bits);
}

void check_shape(int n_tokens, int width, int K, const char* who) {
  if (n_tokens < 0 || width <= 0 || K < 0 || K > width)
    fail("{}: bad shape n_tokens={} width={} K={}", who, n_tokens, width, K);
}

void gather(const ActQuantKernels& k, const float* x, int width, const int32_t* perm, float* out) {
  if (perm == nullptr) {
    std::copy(x, x + width, out);
    return;
  }
  k.gather(x, perm, width, out);
}

// One thread's buffers for one token (permuted values, codes, outlier codes, plane words of a
// block), kept across calls: decode quantizes ~100 single tokens per generated token.
struct TokenScratch {
  std::vector<float> xp;
  std::vector<uint8_t> xq;
  std::vector<int8_t> oq;
  std::vector<uint64_t> words;
};
TokenScratch& token_scratch(int width, int block_size) {
  thread_local TokenScratch s;
  if (s.xp.size() < size_t(width)) {
    s.xp.resize(width);
    s.xq.resize(width);
    s.oq.resize(width);
  }
  const size_t words = size_t(std::max(block_size, 0) + 63) / 64 * 4;
  if (s.words.size() < words) s.words.resize(words);
  return s;
}

// Runs body(t) for every token, in parallel when there is enough work. A fail() inside cannot
// leave an OpenMP region: the first error is kept and rethrown after it.
template <typename F>
void for_each_token(int n_tokens, int width, F&& body) {
  std::exception_ptr error;
#pragma omp parallel for schedule(static) if (int64_t(n_tokens) * width > 65536)
  for (int t = 0; t < n_tokens; ++t) {
    try {
      body(t);
    } catch (...) {
#pragma omp critical(binq_act_quant_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

// Value of code v under scales m (planes) + mc.
inline double code_value(int v, int bits, const double* m, double mc) {
  double s = mc;
  for (int a = 0; a < bits; ++a)
    if ((v >> a) & 1) s += m[a];
  return s;
}

// Squared errors of x against two code tables, each summed in index order; one pass with two
// independent add chains takes about half the time of two passes.
std::pair<double, double> l2_errors(const float* x, const uint8_t* xq, int n, const float* ta, const float* tb) {
  double a = 0, b = 0;
  for (int i = 0; i < n; ++i) {
    const double da = double(x[i]) - ta[xq[i]], db = double(x[i]) - tb[xq[i]];
    a += da * da;
    b += db * db;
  }
  return {a, b};
}

// Solves the SPD system A y = b (n <= 9) by Cholesky; false if not positive definite.
bool cholesky_solve(double* A, double* b, int n) {
  for (int j = 0; j < n; ++j) {
    double d = A[j * n + j];
    for (int k = 0; k < j; ++k) d -= A[j * n + k] * A[j * n + k];
    if (!(d > 0)) return false;
    d = std::sqrt(d);
    A[j * n + j] = d;
    for (int i = j + 1; i < n; ++i) {
      double s = A[i * n + j];
      for (int k = 0; k < j; ++k) s -= A[i * n + k] * A[j * n + k];
      A[i * n + j] = s / d;
    }
  }
  for (int i = 0; i < n; ++i) {  // L y = b
    double s = b[i];
    for (int k = 0; k < i; ++k) s -= A[i * n + k] * b[k];
    b[i] = s / A[i * n + i];
  }
  for (int i = n - 1; i >= 0; --i) {  // L^T x = y
    double s = b[i];
    for (int k = i + 1; k < n; ++k) s -= A[k * n + i] * b[k];
    b[i] = s / A[i * n + i];
  }
  for (int i = 0; i < n; ++i)
    if (!std::isfinite(b[i])) return false;
  return true;
}

}  // namespace

const char* balance_name(Balance b) {
  switch (b) {
    case Balance::None: return "none";
    case Balance::Paper: return "paper";
    case Balance::LeastSquares: return "lsq";
  }
  return "?";
}

Balance parse_balance(const std::string& s, const char* what) {
  if (s == "none") return Balance::None;
  if (s == "paper") return Balance::Paper;
  if (s == "lsq" || s == "least-squares") return Balance::LeastSquares;
  fail("{}: unknown balancing '{}' (expected none, paper or lsq)", what, s);
}

namespace {

TokenQuant quantize_token_with(const ActQuantKernels& k, const float* x, int n, const ActQuantConfig& cfg,
                               uint8_t* xq, float* xhat) {
  TokenQuant p;
  const int bits = cfg.bits;
  const int levels = (1 << bits) - 1;
  if (n <= 0) return p;
  float lo, hi;
  if (!k.min_max(x, n, &lo, &hi)) fail("activation quantization: NaN activation");
  if (!std::isfinite(lo) || !std::isfinite(hi))
    fail("activation quantization: non-finite activation (min {}, max {})", lo, hi);
  if (hi == lo) {  // degenerate: x_hat = min exactly
    // Every value equals x[0]; min_max may have returned a zero of the other sign.
    lo = x[0];
    p.mu = 0;
    p.z = 0;
    p.mc = lo;
    std::fill(xq, xq + n, uint8_t(0));
    if (xhat) std::fill(xhat, xhat + n, lo);
    return p;
  }
  // Elsewhere the sign of a zero lo / hi cannot matter: hi - lo and the integer z are the same.
  const float mu = (hi - lo) / float(levels);
  if (!(mu > 0)) fail("activation quantization: range [{}, {}] is too narrow for {}-bit codes", lo, hi, bits);
  const float zf = std::nearbyint(-lo / mu);
  const int32_t z = static_cast<int32_t>(zf);
  p.mu = mu;
  p.z = z;
  k.codes(x, n, mu, zf, levels, xq);
  // Histogram per code: counts and sums, for the balancing solves only.
  double cnt[256] = {}, sx[256] = {};
  if (cfg.balance != Balance::None) {
    int32_t counts[256];
    (levels <= 15 ? k : act_quant_kernels(Isa::Scalar)).code_counts(xq, n, levels, counts);
    for (int v = 0; v <= levels; ++v) cnt[v] = counts[v];
    // In index order: a double sum of floats depends on its order, and this one is the reference.
    for (int i = 0; i < n; ++i) sx[xq[i]] += x[i];
  }
  double m[9];
  for (int a = 0; a < bits; ++a) m[a] = std::ldexp(double(mu), a);
  double mc = -double(mu) * double(z);
  float plain_table[256];
  for (int v = 0; v <= levels; ++v) plain_table[v] = mu * float(v - z);

  if (cfg.balance == Balance::Paper) {
    // E_i = x_i - x_hat_i; sum over a code's members: sx[v] - cnt[v] * x_hat(v).
    double nnz = double(n) - cnt[0];
    if (nnz > 0) {
      double delta[8] = {};
      for (int v = 1; v <= levels; ++v) {
        if (cnt[v] == 0) continue;
        double esum = sx[v] - cnt[v] * double(plain_table[v]);
        for (int a = 0; a < bits; ++a)
          if ((v >> a) & 1) delta[a] += double(1 << a) / double(v) * esum;
      }
      for (int a = 0; a < bits; ++a) m[a] += delta[a] / nnz;
    }
  } else if (cfg.balance == Balance::LeastSquares) {
    const int d = bits + 1;  // unknowns m_0..m_{bits-1}, m_c
    double A[81] = {}, b[9] = {};
    for (int v = 0; v <= levels; ++v) {
      if (cnt[v] == 0) continue;
      double f[9];
      for (int a = 0; a < bits; ++a) f[a] = (v >> a) & 1;
      f[bits] = 1;
      for (int r = 0; r < d; ++r) {
        if (f[r] == 0) continue;
        b[r] += sx[v];
        for (int c = 0; c < d; ++c) A[r * d + c] += cnt[v] * f[c];
      }
    }
    double trace = 0;
    for (int r = 0; r < d; ++r) trace += A[r * d + r];
    const double lambda = 1e-9 * trace / d;  // ridge toward the plain solution
    double plain[9];
    for (int a = 0; a < bits; ++a) plain[a] = m[a];
    plain[bits] = mc;
    for (int r = 0; r < d; ++r) {
      A[r * d + r] += lambda;
      b[r] += lambda * plain[r];
    }
    if (cholesky_solve(A, b, d)) {
      float table[256];
      for (int v = 0; v <= levels; ++v) table[v] = float(code_value(v, bits, b, b[bits]));
      const auto [e_lsq, e_plain] = l2_errors(x, xq, n, table, plain_table);
      if (e_lsq <= e_plain) {
        for (int a = 0; a < bits; ++a) m[a] = b[a];
        mc = b[bits];
      }
    }
  }
  for (int a = 0; a < bits; ++a) p.m[a] = float(m[a]);
  p.mc = float(mc);
  if (xhat) {
    if (cfg.balance == Balance::None) {
      for (int i = 0; i < n; ++i) xhat[i] = plain_table[xq[i]];
    } else {
      float table[256];
      double mf[8];
      for (int a = 0; a < bits; ++a) mf[a] = p.m[a];
      for (int v = 0; v <= levels; ++v) table[v] = float(code_value(v, bits, mf, p.mc));
      for (int i = 0; i < n; ++i) xhat[i] = table[xq[i]];
    }
  }
  return p;
}

float quantize_outliers_with(const ActQuantKernels& k, const float* x, int n, int bits, int8_t* q, float* xhat) {
  const int qmax = (1 << (bits - 1)) - 1;
  float amax = 0;
  if (n > 0) {
    float lo, hi;
    if (!k.min_max(x, n, &lo, &hi)) fail("activation quantization: NaN outlier activation");
    amax = std::max(std::fabs(lo), std::fabs(hi));  // max |x|
  }
  if (!std::isfinite(amax)) fail("activation quantization: non-finite outlier activation");
  if (amax == 0) {
    std::fill(q, q + n, int8_t(0));
    if (xhat) std::fill(xhat, xhat + n, 0.0f);
    return 0.0f;
  }
  const float s = amax / float(qmax);
  if (!xhat) {
    k.outlier_codes(x, n, s, qmax, q);
    return s;
  }
  for (int i = 0; i < n; ++i) {  // x_hat = s r keeps the sign of a zero r, which q cannot hold
    float r = std::clamp(std::nearbyint(x[i] / s), float(-qmax), float(qmax));
    q[i] = static_cast<int8_t>(r);
    xhat[i] = s * r;
  }
  return s;
}

const ActQuantKernels& active_kernels() { return act_quant_kernels(active_isa()); }

}  // namespace

const ActQuantKernels& act_quant_kernels(Isa isa) {
  if (!isa_supported(isa))
    fail("activation quantizer for ISA {} requested but this CPU does not support it", isa_name(isa));
  switch (isa) {
    case Isa::Scalar: return detail::act_quant_scalar();
    case Isa::Avx2: return detail::act_quant_avx2();
    case Isa::Avx512: return detail::act_quant_avx512();
  }
  return detail::act_quant_scalar();
}

TokenQuant quantize_token(const float* x, int n, const ActQuantConfig& cfg, uint8_t* xq, float* xhat) {
  return quantize_token_with(active_kernels(), x, n, cfg, xq, xhat);
}

float quantize_outliers_token(const float* x, int n, int bits, int8_t* q, float* xhat) {
  return quantize_outliers_with(active_kernels(), x, n, bits, q, xhat);
}

uint64_t gather_bit(const uint8_t* v, int n, int bit) {
  // Eight bytes at a time: after masking, each byte is 0 or 1 and the multiply moves byte k's bit
  // to bit 56 + k without carries between bytes.
  const uint64_t lsb = 0x0101010101010101ull;
  uint64_t w = 0;
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x;
    std::memcpy(&x, v + i, 8);
    w |= ((((x >> bit) & lsb) * 0x0102040810204080ull) >> 56) << i;
  }
  for (; i < n; ++i) w |= uint64_t((v[i] >> bit) & 1u) << i;
  return w;
}

ChunkLayout chunk_layout(int width, int K, int block_size) {
  ChunkLayout c;
  const int bw = width - K;
  c.k_pad = (K + 31) / 32 * 32;
  if (bw <= 0) return c;
  c.n_blocks = (bw + block_size - 1) / block_size;
  c.chunks_per_block = (block_size + kChunkBits - 1) / kChunkBits;
  c.last_chunks = (bw - (c.n_blocks - 1) * block_size + kChunkBits - 1) / kChunkBits;
  c.n_chunks = (c.n_blocks - 1) * c.chunks_per_block + c.last_chunks;
  return c;
}

ActsView QuantizedActs::view() const {
  ActsView v;
  v.n_tokens = n_tokens;
  v.n_blocks = n_blocks;
  v.n_chunks = n_chunks;
  v.k_pad = k_pad;
  v.planes = planes.data();
  v.plane_pop = plane_pop.data();
  v.m = m.data();
  v.mc = mc.data();
  v.outlier_q = outlier_q.data();
  v.outlier_scale = outlier_scale.data();
  return v;
}

int QuantizedActs::plane_bit(int t, int a, int i) const {
  int l = i / block_size, o = i % block_size;
  const int c = l * chunks_per_block + o / kChunkBits, w = (o % kChunkBits) / 64;
  const uint64_t* tp = planes.data() + int64_t(t) * n_chunks * 8;
  return int((tp[plane_word_index(c, a, w)] >> (o % 64)) & 1u);
}

void quantize_activations(const float* x, int n_tokens, int width, const int32_t* perm, int K,
                          int block_size, const ActQuantConfig& cfg, QuantizedActs& out) {
  check_config(cfg, "quantize_activations");
  check_shape(n_tokens, width, K, "quantize_activations");
  if (cfg.bits != 4)
    fail("quantize_activations: the bitwise kernels need 4-bit activations, got {}", cfg.bits);
  const int bw = width - K;
  if (bw > 0 && block_size <= 0) fail("quantize_activations: block size must be > 0");
  out.n_tokens = n_tokens;
  out.width = width;
  out.K = K;
  out.block_size = block_size;
  const ChunkLayout cl = chunk_layout(width, K, block_size);
  out.n_blocks = cl.n_blocks;
  out.chunks_per_block = cl.chunks_per_block;
  out.n_chunks = cl.n_chunks;
  out.k_pad = cl.k_pad;
  // Sized, not cleared: every element is written below (decode calls this ~100 times a token).
  out.planes.resize(size_t(n_tokens) * out.n_chunks * 8);
  out.plane_pop.resize(size_t(n_tokens) * out.n_blocks * 4);
  out.m.resize(size_t(n_tokens) * 4);
  out.mc.resize(n_tokens);
  out.mu.resize(n_tokens);
  out.z.resize(n_tokens);
  out.outlier_q.resize(size_t(n_tokens) * out.k_pad);
  out.outlier_scale.resize(n_tokens);

  const ActQuantKernels& k = active_kernels();
  for_each_token(n_tokens, width, [&](int t) {
    TokenScratch& s = token_scratch(width, block_size);
    gather(k, x + int64_t(t) * width, width, perm, s.xp.data());
    uint64_t* pl = out.planes.data() + size_t(t) * out.n_chunks * 8;
    std::fill(pl, pl + size_t(out.n_chunks) * 8, uint64_t(0));  // words past the data stay zero
    TokenQuant p;  // all zero without a binary part
    if (bw > 0) {
      p = quantize_token_with(k, s.xp.data(), bw, cfg, s.xq.data(), nullptr);
      int32_t* pop = out.plane_pop.data() + size_t(t) * out.n_blocks * 4;
      for (int l = 0; l < out.n_blocks; ++l) {
        const int c0 = l * block_size, len = std::min(block_size, bw - c0);
        k.bit_planes(s.xq.data() + c0, len, 4, s.words.data(), pop + l * 4);
        for (int w = 0; 64 * w < len; ++w) {
          const int o0 = 64 * w;
          const int c = l * out.chunks_per_block + o0 / kChunkBits, wd = (o0 % kChunkBits) >> 6;
          for (int a = 0; a < 4; ++a) pl[plane_word_index(c, a, wd)] = s.words[w * 4 + a];
        }
      }
    }
    for (int a = 0; a < 4; ++a) out.m[t * 4 + a] = p.m[a];
    out.mc[t] = p.mc;
    out.mu[t] = p.mu;
    out.z[t] = p.z;
    int8_t* oq = out.outlier_q.data() + size_t(t) * out.k_pad;
    out.outlier_scale[t] = K > 0 ? quantize_outliers_with(k, s.xp.data() + bw, K, cfg.outlier_bits, oq, nullptr) : 0.0f;
    std::fill(oq + K, oq + out.k_pad, int8_t(0));
  });
}

void fake_quantize_activations(const float* x, int n_tokens, int width, const int32_t* perm,
                               int K, const ActQuantConfig& cfg, float* x_hat) {
  check_config(cfg, "fake_quantize_activations");
  check_shape(n_tokens, width, K, "fake_quantize_activations");
  const int bw = width - K;
  const ActQuantKernels& k = active_kernels();
  for_each_token(n_tokens, width, [&](int t) {
    TokenScratch& s = token_scratch(width, 0);
    gather(k, x + int64_t(t) * width, width, perm, s.xp.data());
    float* dst = x_hat + int64_t(t) * width;
    if (bw > 0) quantize_token_with(k, s.xp.data(), bw, cfg, s.xq.data(), dst);
    if (K > 0) quantize_outliers_with(k, s.xp.data() + bw, K, cfg.outlier_bits, s.oq.data(), dst + bw);
  });
}

}  // namespace binq
