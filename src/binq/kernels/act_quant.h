// Per-token activation quantization at a linear input (method.md §4).
//
// Channels are first gathered by the layer permutation (x_perm[i] = x[perm[i]]). The first
// width-K permuted channels ("binary part") are quantized per token to asymmetric INT{bits}:
//   mu = (max - min) / (2^bits - 1), z = round(-min / mu), x_q = clamp(round(x / mu) + z, 0, 2^bits-1)
//   x_hat = mu * (x_q - z) = sum_a m_a b_a + m_c  with m_a = 2^a mu, m_c = -mu z, b_a = bit a of x_q.
// round() is round-half-to-even (nearbyint). Degenerate tokens (max == min) get mu = 0, z = 0,
// x_q = 0, m_a = 0 and m_c = min, so x_hat == x exactly.
// The last K channels ("outliers") are quantized per token to symmetric INT{outlier_bits}:
//   s = max|x| / (2^(ob-1) - 1), q = clamp(round(x / s), -qmax, qmax), x_hat = s q  (s = 0 if all 0).
//
// Balancing (only changes m_a / m_c, never the bit-planes):
//   None          m_a = 2^a mu, m_c = -mu z (plain INT dequantization).
//   Paper         Eq. 11: m_a += mean over {i: x_q,i != 0} of (2^a b_{i,a} / x_q,i) * (x_i - x_hat_i).
//   LeastSquares  the m_0..m_{bits-1}, m_c minimising ||x - sum_a m_a b_a - m_c||_2 over the
//                 binary part, solved from the (bits+1)^2 normal equations with a tiny ridge pulled
//                 toward the plain values (so singular systems, e.g. an all-zero plane, keep the plain
//                 value); if the result is not better than plain in L2 (rounding), plain is kept.
//
// Two entry points:
//   fake_quantize_activations  -> x_hat floats in PERMUTED order [n x width] (simulation, any bits
//                                 1..8: plain INT{m} baselines use bits = m, balance = None).
//   quantize_activations       -> bit-planes + scales for the bitwise kernels (bits must be 4).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "binq/kernels/dispatch.h"
#include "binq/kernels/kernel_table.h"

namespace binq {

struct ActQuantKernels;  // act_quant_kernels.h
// The quantizer's inner loops for `isa` (fails if this CPU lacks it). Every entry point below
// uses the active ISA's (BINQ_ISA / force_isa); all ISAs give bit-identical results.
const ActQuantKernels& act_quant_kernels(Isa isa);

enum class Balance { None = 0, Paper = 1, LeastSquares = 2 };
const char* balance_name(Balance b);                    // "none", "paper", "lsq"
Balance parse_balance(const std::string& s, const char* what);

struct ActQuantConfig {
  int bits = 4;              // binary-part bits (1..8; the bitwise kernels need 4)
  Balance balance = Balance::None;
  int outlier_bits = 8;      // 2..8
};

// Quantization of one token's binary part (exposed for tests and the quantizer).
struct TokenQuant {
  float mu = 0;       // INT step
  int32_t z = 0;      // zero point (may lie outside [0, 2^bits-1] when min > 0 or max < 0)
  float m[8] = {};    // plane scales m_a (after balancing)
  float mc = 0;       // constant term m_c (after balancing)
};
// Quantizes n floats (already permuted); writes x_q (0..2^bits-1) into xq (n bytes) and returns the
// scales. `xhat` (optional) receives the dequantized values. Fails on NaN or infinite values.
TokenQuant quantize_token(const float* x, int n, const ActQuantConfig& cfg, uint8_t* xq,
                          float* xhat);
// Symmetric per-token quantization of n outlier floats: writes q (n bytes) and returns the scale.
float quantize_outliers_token(const float* x, int n, int bits, int8_t* q, float* xhat);

// Bit `bit` of each of n <= 64 bytes, gathered into one u64 (bit i <- v[i]). Used to build both
// the weight bits (bytes 0/1) and the activation bit-planes (4-bit codes).
uint64_t gather_bit(const uint8_t* v, int n, int bit);

// Block / 128-bit chunk geometry of the binary part, shared by the packed weights and the
// activation planes so the two always line up (docs/format.md).
inline constexpr int kChunkBits = 128;   // one chunk: 128 binary channels (2 x u64 per bit kind)

struct ChunkLayout {
  int n_blocks = 0, chunks_per_block = 0, last_chunks = 0, n_chunks = 0, k_pad = 0;
};
ChunkLayout chunk_layout(int width, int K, int block_size);

// Bit-plane form of n tokens, layout matching PackedBinaryLinear (docs/format.md).
struct QuantizedActs {
  int n_tokens = 0, width = 0, K = 0, block_size = 0;
  int n_blocks = 0, chunks_per_block = 0, n_chunks = 0, k_pad = 0;
  std::vector<uint64_t> planes;      // [t][n_chunks][4 planes][2 words], zero padded
  std::vector<int32_t> plane_pop;    // [t][n_blocks][4]
  std::vector<float> m;              // [t][4]
  std::vector<float> mc;             // [t]
  std::vector<float> mu;             // [t]
  std::vector<int32_t> z;            // [t]
  std::vector<int8_t> outlier_q;     // [t][k_pad], zero padded
  std::vector<float> outlier_scale;  // [t]
  ActsView view() const;             // lo_term left null (the GEMM front end fills it)
  // Plane a bit of token t at binary channel i (permuted index < width - K); for tests.
  int plane_bit(int t, int a, int i) const;
};

// x: [n_tokens x width] in ORIGINAL channel order; perm: [width] (x_perm[i] = x[perm[i]]) or
// nullptr for identity. K outlier channels (the last K permuted ones). block_size: the layer's B.
void quantize_activations(const float* x, int n_tokens, int width, const int32_t* perm, int K,
                          int block_size, const ActQuantConfig& cfg, QuantizedActs& out);

// x_hat [n_tokens x width] in PERMUTED order (outliers last). Any cfg.bits in 1..8.
void fake_quantize_activations(const float* x, int n_tokens, int width, const int32_t* perm,
                               int K, const ActQuantConfig& cfg, float* x_hat);

}  // namespace binq
