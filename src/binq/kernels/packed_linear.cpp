#include "binq/kernels/packed_linear.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <span>

#include "binq/core/error.h"
#include "binq/core/half.h"
#include "binq/core/parallel.h"
#include "binq/kernels/dispatch.h"

namespace binq {
namespace {

constexpr int64_t kParamBytes = 4 * kTileRows * 2;             // FP16 lo0, d0, lo1, d1 of 8 rows
constexpr int64_t kChunkTileBytes = 2 * 2 * kTileRows * 8;        // q and s, 2 words, 8 rows

// Whether every row satisfies the AVX-512 kernel's bound for exact 52-bit integer accumulation
// (docs/format.md "Integer accumulation"): sum over chunks of 128 (|d1| + |d0| + |lo1 - lo0|)
// in units of 2^-24 below 2^50. Realistic layers (|params| < 1) are ~10^6 times below it.
bool int_accumulation_ok(const BinaryLinearParams& p, const ChunkLayout& cl) {
  const int nb = cl.n_blocks;
  for (int j = 0; j < p.out_features; ++j) {
    double s = 0;
    for (int l = 0; l < nb; ++l) {
      const size_t i = size_t(j) * nb + l;
      const int nck = l == nb - 1 ? cl.last_chunks : cl.chunks_per_block;
      s += nck * (std::fabs(double(p.d1[i])) + std::fabs(double(p.d0[i])) +
                  std::fabs(double(p.lo1[i]) - double(p.lo0[i])));
    }
    // Written as !(x < bound) so that a NaN parameter also takes the double-precision path.
    if (!(s * 128.0 * 16777216.0 < 1125899906842624.0 /* 2^50 */)) return false;
  }
  return true;
}

uint16_t to_fp16_exact(float v, const char* field, int j, int l) {
  uint16_t h = float_to_fp16(v);
  if (fp16_to_float(h) != v && !(std::isnan(v)))
    fail("pack: {}[row {}, block {}] = {} is not exactly representable in FP16", field, j, l, v);
  return h;
}

// Everything but the sign/bitmap bits, which each pack overload checks in its own form.
void check_params(const BinaryLinearParams& p) {
  const int out = p.out_features, in = p.in_features, K = p.n_outliers, B = p.block_size;
  if (out <= 0 || in <= 0 || K < 0 || K > in)
    fail("pack: bad shape out={} in={} K={}", out, in, K);
  const int bw = in - K;
  if (bw > 0 && (B <= 0 || B > 65535)) fail("pack: block_size must be 1..65535, got {}", B);
  const size_t nb = bw > 0 ? size_t((bw + B - 1) / B) : 0;
  auto need = [](const char* what, size_t got, size_t want) {
    if (got != want) fail("pack: {} has {} elements, expected {}", what, got, want);
  };
  need("perm", p.perm.size(), size_t(in));
  need("lo0", p.lo0.size(), size_t(out) * nb);
  need("d0", p.d0.size(), size_t(out) * nb);
  need("lo1", p.lo1.size(), size_t(out) * nb);
  need("d1", p.d1.size(), size_t(out) * nb);
  need("outlier_w", p.outlier_w.size(), size_t(out) * K);
  need("outlier_scale", p.outlier_scale.size(), size_t(out));
  std::vector<char> seen(in, 0);
  for (int i = 0; i < in; ++i) {
    int32_t v = p.perm[i];
    if (v < 0 || v >= in || seen[v]) fail("pack: perm is not a permutation of 0..{}", in - 1);
    seen[v] = 1;
  }
}

// m <= 64 bits of an LSB-first packed bit array of n_bytes, starting at bit e, as one word.
uint64_t read_bits(const uint8_t* bits, size_t n_bytes, size_t e, int m) {
  static_assert(std::endian::native == std::endian::little);
  const size_t b = e >> 3;
  const int sh = int(e & 7);
  uint64_t v = 0;
  std::memcpy(&v, bits + b, std::min<size_t>(8, n_bytes - b));
  v >>= sh;
  if (sh > 0 && m > 64 - sh) v |= uint64_t(bits[b + 8]) << (64 - sh);
  return m == 64 ? v : v & ((uint64_t(1) << m) - 1);
}

}  // namespace

BinaryLayerView PackedBinaryLinear::view() const {
  BinaryLayerView v;
  v.out = out_features;
  v.in = in_features;
  v.K = n_outliers;
  v.block_size = block_size;
  v.n_blocks = n_blocks;
  v.chunks_per_block = chunks_per_block;
  v.last_chunks = last_chunks;
  v.n_chunks = n_chunks;
  v.k_pad = k_pad;
  v.n_tiles = n_tiles;
  v.tile_stride = tile_stride;
  v.block_stride = block_stride;
  v.outlier_offset = outlier_offset;
  v.tiles = tiles.data();
  return v;
}

namespace {

// pack's body for checked params whose bits come from `bits(j, c, m, q, s)`: row j's sign (q)
// and bitmap (s) bits of binary channels c..c+m-1 (m <= 64), channel c in bit 0.
template <typename Bits>
PackedBinaryLinear pack_with(const BinaryLinearParams& p, const Bits& bits) {
  PackedBinaryLinear w;
  const int out = p.out_features, K = p.n_outliers, B = p.block_size, bw = p.binary_width();
  w.out_features = out;
  w.in_features = p.in_features;
  w.n_outliers = K;
  w.block_size = B;
  const ChunkLayout cl = chunk_layout(p.in_features, K, B);
  w.n_blocks = cl.n_blocks;
  w.chunks_per_block = cl.chunks_per_block;
  w.last_chunks = cl.last_chunks;
  w.n_chunks = cl.n_chunks;
  w.k_pad = cl.k_pad;
  w.n_tiles = (out + kTileRows - 1) / kTileRows;
  w.int_accumulation_ok = int_accumulation_ok(p, cl);
  const int nb = w.n_blocks;
  w.block_stride = kParamBytes + kChunkTileBytes * int64_t(w.chunks_per_block);
  w.outlier_offset = nb > 0 ? tile_block_offset(nb - 1, w.block_stride) + kParamBytes + kChunkTileBytes * int64_t(w.last_chunks)
                            : int64_t(sizeof(TileHeader));
  w.tile_stride = w.outlier_offset + int64_t(kTileRows) * w.k_pad;
  w.perm = p.perm;
  w.tiles.resize(size_t(w.n_tiles) * w.tile_stride);
  // Parameters and outliers first, serially: they may fail (not FP16-exact), and an exception
  // must not leave an OpenMP region.
  for (int j = 0; j < out; ++j) {
    uint8_t* tile = w.tiles.data() + w.tile_offset(j);
    const int lane = j % kTileRows;
    for (int l = 0; l < nb; ++l) {
      uint16_t* prm = reinterpret_cast<uint16_t*>(tile + tile_block_offset(l, w.block_stride));
      const size_t pi = size_t(j) * nb + l;
      prm[tile_param_index(0, lane)] = to_fp16_exact(p.lo0[pi], "lo0", j, l);
      prm[tile_param_index(1, lane)] = to_fp16_exact(p.d0[pi], "d0", j, l);
      prm[tile_param_index(2, lane)] = to_fp16_exact(p.lo1[pi], "lo1", j, l);
      prm[tile_param_index(3, lane)] = to_fp16_exact(p.d1[pi], "d1", j, l);
    }
    TileHeader& h = *reinterpret_cast<TileHeader*>(tile);
    int8_t* ow = reinterpret_cast<int8_t*>(tile + w.outlier_offset);
    for (int k = 0; k < K; ++k) {
      ow[tile_outlier_index(k, lane)] = p.outlier_w[size_t(j) * K + k];
      h.outlier_wsum[lane] += p.outlier_w[size_t(j) * K + k];
    }
    h.outlier_scale[lane] = to_fp16_exact(p.outlier_scale[j], "outlier_scale", j, -1);
  }
  // Bits, 64 channels at a time, and the row sums from per-block counts:
  // rowsum = sum_l lo0 (n - #s) + lo1 #s + d0 #(q & ~s) + d1 #(q & s), each term exact in double.
  // One tile per iteration, so no two threads write the same tile.
#pragma omp parallel for schedule(static) if (int64_t(out) * bw > (int64_t(1) << 20))
  for (int tile = 0; tile < w.n_tiles; ++tile) {
    uint8_t* tp = w.tiles.data() + int64_t(tile) * w.tile_stride;
    for (int lane = 0; lane < kTileRows && tile * kTileRows + lane < out; ++lane) {
      const int j = tile * kTileRows + lane;
      double rowsum = 0;
      for (int l = 0; l < nb; ++l) {
        uint64_t* blk = reinterpret_cast<uint64_t*>(tp + tile_block_offset(l, w.block_stride));
        const int c0 = l * B, len = std::min(bw, c0 + B) - c0;
        int64_t ns = 0, nq0 = 0, nq1 = 0;
        for (int o = 0; o < len; o += 64) {
          const int ck = o / kChunkBits, word = (o % kChunkBits) >> 6;
          const int m = std::min(64, len - o);
          uint64_t qw, sw;
          bits(j, c0 + o, m, qw, sw);
          blk[tile_bit_index(ck, 0, word, lane)] = qw;
          blk[tile_bit_index(ck, 1, word, lane)] = sw;
          ns += std::popcount(sw);
          nq0 += std::popcount(qw & ~sw);
          nq1 += std::popcount(qw & sw);
        }
        const size_t pi = size_t(j) * nb + l;
        rowsum += double(p.lo0[pi]) * double(len - ns) + double(p.lo1[pi]) * double(ns) +
                  double(p.d0[pi]) * double(nq0) + double(p.d1[pi]) * double(nq1);
      }
      reinterpret_cast<TileHeader*>(tp)->rowsum[lane] = rowsum;
    }
  }
  return w;
}

}  // namespace

PackedBinaryLinear pack(const BinaryLinearParams& p) {
  check_params(p);
  const int bw = p.binary_width();
  const size_t n = size_t(p.out_features) * bw;
  if (p.sign.size() != n || p.bitmap.size() != n)
    fail("pack: sign/bitmap have {}/{} elements, expected {}", p.sign.size(), p.bitmap.size(), n);
  for (size_t i = 0; i < n; ++i)
    if (p.sign[i] > 1 || p.bitmap[i] > 1) fail("pack: sign/bitmap element {} is not 0/1", i);
  return pack_with(p, [&](int j, int c, int m, uint64_t& q, uint64_t& s) {
    q = gather_bit(p.sign.data() + size_t(j) * bw + c, m, 0);
    s = gather_bit(p.bitmap.data() + size_t(j) * bw + c, m, 0);
  });
}

PackedBinaryLinear pack(const BinaryLinearParams& p, std::span<const uint8_t> sign_bits,
                        std::span<const uint8_t> bitmap_bits) {
  check_params(p);
  if (!p.sign.empty() || !p.bitmap.empty()) fail("pack: sign/bitmap given both as bytes and as bits");
  const size_t bw = size_t(p.binary_width());
  const size_t n_bytes = (size_t(p.out_features) * bw + 7) / 8;
  if (sign_bits.size() != n_bytes || bitmap_bits.size() != n_bytes)
    fail("pack: sign/bitmap bits are {}/{} bytes, expected {}", sign_bits.size(), bitmap_bits.size(), n_bytes);
  return pack_with(p, [&](int j, int c, int m, uint64_t& q, uint64_t& s) {
    q = read_bits(sign_bits.data(), n_bytes, size_t(j) * bw + c, m);
    s = read_bits(bitmap_bits.data(), n_bytes, size_t(j) * bw + c, m);
  });
}

BinaryLinearParams unpack(const PackedBinaryLinear& w) {
  BinaryLinearParams p;
  const int out = w.out_features, K = w.n_outliers, B = w.block_size, bw = w.binary_width();
  const int nb = w.n_blocks;
  p.out_features = out;
  p.in_features = w.in_features;
  p.n_outliers = K;
  p.block_size = B;
  p.perm = w.perm;
  p.sign.resize(size_t(out) * bw);
  p.bitmap.resize(size_t(out) * bw);
  p.lo0.resize(size_t(out) * nb);
  p.d0.resize(size_t(out) * nb);
  p.lo1.resize(size_t(out) * nb);
  p.d1.resize(size_t(out) * nb);
  p.outlier_w.resize(size_t(out) * K);
  p.outlier_scale.resize(out);
  for (int j = 0; j < out; ++j) {
    const uint8_t* tile = w.tiles.data() + w.tile_offset(j);
    const int lane = j % kTileRows;
    p.outlier_scale[j] = fp16_to_float(w.tile_header(j).outlier_scale[lane]);
    for (int l = 0; l < nb; ++l) {
      const uint8_t* blk = tile + tile_block_offset(l, w.block_stride);
      const uint16_t* prm = reinterpret_cast<const uint16_t*>(blk);
      const size_t pi = size_t(j) * nb + l;
      p.lo0[pi] = fp16_to_float(prm[tile_param_index(0, lane)]);
      p.d0[pi] = fp16_to_float(prm[tile_param_index(1, lane)]);
      p.lo1[pi] = fp16_to_float(prm[tile_param_index(2, lane)]);
      p.d1[pi] = fp16_to_float(prm[tile_param_index(3, lane)]);
      const uint64_t* bits = reinterpret_cast<const uint64_t*>(blk);
      const int len = std::min(bw, (l + 1) * B) - l * B;
      for (int o = 0; o < len; ++o) {
        const int ck = o / kChunkBits, word = (o % kChunkBits) >> 6;
        const size_t wi = size_t(j) * bw + size_t(l) * B + o;
        p.sign[wi] = uint8_t((bits[tile_bit_index(ck, 0, word, lane)] >> (o & 63)) & 1);
        p.bitmap[wi] = uint8_t((bits[tile_bit_index(ck, 1, word, lane)] >> (o & 63)) & 1);
      }
    }
    const int8_t* ow = reinterpret_cast<const int8_t*>(tile + w.outlier_offset);
    for (int k = 0; k < K; ++k) p.outlier_w[size_t(j) * K + k] = ow[tile_outlier_index(k, lane)];
  }
  return p;
}

std::vector<float> dequantize_permuted(const PackedBinaryLinear& w) {
  const BinaryLinearParams p = unpack(w);
  const int out = p.out_features, in = p.in_features, K = p.n_outliers, B = p.block_size;
  const int bw = in - K, nb = w.n_blocks;
  std::vector<float> d(size_t(out) * in);
  for (int j = 0; j < out; ++j) {
    for (int c = 0; c < bw; ++c) {
      const size_t pi = size_t(j) * nb + c / B, wi = size_t(j) * bw + c;
      const float lo = p.bitmap[wi] ? p.lo1[pi] : p.lo0[pi];
      const float dd = p.bitmap[wi] ? p.d1[pi] : p.d0[pi];
      d[size_t(j) * in + c] = lo + dd * p.sign[wi];
    }
    for (int k = 0; k < K; ++k)
      d[size_t(j) * in + bw + k] = p.outlier_scale[j] * float(p.outlier_w[size_t(j) * K + k]);
  }
  return d;
}

namespace {

void check_match(const PackedBinaryLinear& w, const QuantizedActs& x, const char* who) {
  if (x.width != w.in_features || x.K != w.n_outliers ||
      (w.binary_width() > 0 && x.block_size != w.block_size) || x.n_chunks != w.n_chunks ||
      x.k_pad != w.k_pad)
    fail("{}: activations (width {}, K {}, B {}) do not match the layer (in {}, K {}, B {})", who,
         x.width, x.K, x.block_size, w.in_features, w.n_outliers, w.block_size);
}

// Runs f(i, row_begin, row_end) over the layers `views`, their tiles concatenated, in pieces of
// whole tiles (the kernels' contract) spread over the threads (core/parallel.h), in ONE parallel
// region when there is enough work: one fork/join for q, k and v instead of three.
// Pieces of 8 tiles: small enough to even out two threads (~2 us of a 2048-wide GEMV), large
// enough that claiming one (a compare-and-swap) costs nothing measurable.
template <typename F>
void for_tile_ranges(std::span<const BinaryLayerView> views, int64_t work, F&& f) {
  constexpr int64_t kPieceTiles = 8;
  int64_t total = 0;
  for (const BinaryLayerView& v : views) total += v.n_tiles;
  for_stolen_ranges(total, kPieceTiles, work > (int64_t(1) << 16), [&](int64_t g0, int64_t g1) {
    int64_t first = 0;  // global index of layer i's first tile
    for (size_t i = 0; i < views.size(); first += views[i].n_tiles, ++i) {
      const int64_t t0 = std::max(g0, first), t1 = std::min(g1, first + views[i].n_tiles);
      if (t0 < t1)
        f(i, int((t0 - first) * kTileRows), int(std::min<int64_t>(views[i].out, (t1 - first) * kTileRows)));
    }
  });
}

}  // namespace

void binary_gemm_group(std::span<const PackedBinaryLinear* const> ws, const QuantizedActs& x,
                       std::span<float* const> ys, const KernelTable* table) {
  if (ws.empty() || ws.size() != ys.size())
    fail("binary_gemm_group: {} layers and {} outputs", ws.size(), ys.size());
  const int n = x.n_tokens, nb = x.n_blocks;
  std::vector<BinaryLayerView> views;
  std::vector<const KernelTable*> kts;
  int64_t work = 0;
  for (const PackedBinaryLinear* w : ws) {
    check_match(*w, x, "binary_gemm");
    const KernelTable* kt = table ? table : &kernel_table();
    // The AVX-512 kernel accumulates in exact 52-bit integers, which needs bounded parameters;
    // a layer outside the bound (never seen in practice) runs on the double-precision AVX2 kernel.
    if (!w->int_accumulation_ok && kt == &detail::table_avx512()) kt = &detail::table_avx2();
    kts.push_back(kt);
    views.push_back(w->view());
    work += int64_t(w->out_features) * w->in_features * n;
  }
  if (n == 0) return;
  if (std::all_of(kts.begin(), kts.end(), [&](const KernelTable* kt) { return use_sgemm_route(*kt, n); })) {
    const std::vector<float> xh = dequantize_acts(x);
    for (size_t i = 0; i < ws.size(); ++i) binary_sgemm(*ws[i], xh.data(), n, ys[i], *kts[i]);
    return;
  }
  // lo_term in double: m_a * pop is exact, the 4-term sum rounds at ~1e-16 (the kernels' double
  // epilogue must agree with the scalar reference to a few float ulps). Kept per thread: decode
  // calls this ~100 times per token.
  thread_local std::vector<double> lo_term;
  lo_term.resize(size_t(n) * nb);
  for (int t = 0; t < n; ++t)
    for (int l = 0; l < nb; ++l) {
      const int32_t* pop = x.plane_pop.data() + (size_t(t) * nb + l) * 4;
      const float* m = x.m.data() + size_t(t) * 4;
      lo_term[size_t(t) * nb + l] = double(m[0]) * pop[0] + double(m[1]) * pop[1] +
                                    double(m[2]) * pop[2] + double(m[3]) * pop[3];
    }
  ActsView av = x.view();
  av.lo_term = lo_term.data();
  for_tile_ranges(views, work, [&](size_t i, int r0, int r1) {
    thread_local AlignedBuffer scratch;  // doubles live in it (64-byte aligned raw bytes)
    if (scratch.size() < size_t(binary_gemm_scratch_bytes(views[i]))) scratch.resize(binary_gemm_scratch_bytes(views[i]));
    kts[i]->binary_gemm(views[i], av, r0, r1, ys[i], reinterpret_cast<float*>(scratch.data()));
  });
}

void binary_gemm(const PackedBinaryLinear& w, const QuantizedActs& x, float* y,
                 const KernelTable* table) {
  const PackedBinaryLinear* ws[] = {&w};
  float* ys[] = {y};
  binary_gemm_group(ws, x, ys, table);
}

void binary_int_parts(const PackedBinaryLinear& w, const QuantizedActs& x,
                      std::vector<int32_t>& counts, std::vector<int32_t>& odot,
                      const KernelTable* table) {
  check_match(w, x, "binary_int_parts");
  const KernelTable& kt = table ? *table : kernel_table();
  const int n = x.n_tokens, out = w.out_features;
  counts.assign(size_t(n) * out * w.n_blocks * 12, -1);
  odot.assign(size_t(n) * out, -1);
  const ActsView av = x.view();
  const BinaryLayerView wv = w.view();
  for_tile_ranges({&wv, 1}, int64_t(out) * w.in_features * n,
                  [&](size_t, int r0, int r1) { kt.binary_counts(wv, av, r0, r1, counts.data(), odot.data()); });
}

std::vector<double> binary_magnitudes(const PackedBinaryLinear& w, const QuantizedActs& x) {
  std::vector<int32_t> counts, odot;
  binary_int_parts(w, x, counts, odot, &kernel_table(Isa::Scalar));
  const int n = x.n_tokens, out = w.out_features, nb = w.n_blocks;
  const BinaryLinearParams p = unpack(w);
  std::vector<double> mag(size_t(n) * out, 0.0);
  for (int t = 0; t < n; ++t)
    for (int j = 0; j < out; ++j) {
      double s = std::fabs(double(x.mc[t]) * w.tile_header(j).rowsum[j % kTileRows]) +
                 std::fabs(double(p.outlier_scale[j]) * x.outlier_scale[t] * odot[size_t(t) * out + j]);
      for (int l = 0; l < nb; ++l) {
        const size_t pi = size_t(j) * nb + l;
        const int32_t* c = counts.data() + ((size_t(t) * out + j) * nb + l) * 12;
        const int32_t* pop = x.plane_pop.data() + (size_t(t) * nb + l) * 4;
        for (int a = 0; a < 4; ++a)
          s += std::fabs(double(x.m[t * 4 + a])) *
               (std::fabs(double(p.d1[pi]) - p.d0[pi]) * c[a * 3] + std::fabs(p.d0[pi]) * c[a * 3 + 1] +
                std::fabs(double(p.lo1[pi]) - p.lo0[pi]) * c[a * 3 + 2] + std::fabs(p.lo0[pi]) * pop[a]);
      }
      mag[size_t(t) * out + j] = s;
    }
  return mag;
}

}  // namespace binq
