// Scalar kernels: the reference path (and fallback on CPUs without AVX2). The integer entry point
// counts with a plain loop over the bits of each 64-bit word, so it is obviously right; the float
// path uses std::popcount on words (tested equal) and the same formula as the SIMD kernels:
//   y = sum_l sum_a m_a [ (d1-d0) pc(q&b&s) + d0 pc(q&b) + (lo1-lo0) pc(b&s) + lo0 pc(b) ]
//       + m_c * rowsum + s_w s_x * sum_k w_k x_k
#include <bit>
#include <cstring>

#include "binq/core/half.h"
#include "binq/kernels/kernel_table.h"

namespace binq {
namespace {

int bitcount(uint64_t v) {
  int c = 0;
  for (int i = 0; i < 64; ++i) c += int((v >> i) & 1u);
  return c;
}

int wordcount(uint64_t v) { return std::popcount(v); }

// Row j of the layer: its tile and lane (docs/format.md "Row tiles").
struct RowRef {
  const uint8_t* tile;
  int lane;
};
RowRef row_ref(const BinaryLayerView& w, int j) {
  return {w.tiles + int64_t(j / kTileRows) * w.tile_stride, j % kTileRows};
}
TileHeader header(const RowRef& r) {
  TileHeader h;
  std::memcpy(&h, r.tile, sizeof h);
  return h;
}

// Counts of one (row, block, token): c[a*3 + {0,1,2}]. Count = bitcount (reference, bit loop) for
// the integer entry point, wordcount for the float path (so the scalar fallback is usable).
template <int (*Count)(uint64_t)>
void block_counts(const BinaryLayerView& w, const RowRef& r, const uint64_t* tok_planes, int l,
                  int32_t* c) {
  const int nck = (l == w.n_blocks - 1) ? w.last_chunks : w.chunks_per_block;
  for (int k = 0; k < 12; ++k) c[k] = 0;
  const uint8_t* blk = r.tile + tile_block_offset(l, w.block_stride);
  for (int ck = 0; ck < nck; ++ck) {
    const int chunk = l * w.chunks_per_block + ck;
    for (int wd = 0; wd < 2; ++wd) {
      uint64_t q, s;
      std::memcpy(&q, blk + 8 * tile_bit_index(ck, 0, wd, r.lane), 8);
      std::memcpy(&s, blk + 8 * tile_bit_index(ck, 1, wd, r.lane), 8);
      for (int a = 0; a < 4; ++a) {
        const uint64_t ba = tok_planes[plane_word_index(chunk, a, wd)];
        c[a * 3 + 0] += Count(q & ba & s);
        c[a * 3 + 1] += Count(q & ba);
        c[a * 3 + 2] += Count(ba & s);
      }
    }
  }
}

double param(const BinaryLayerView& w, const RowRef& r, int l, int kind) {
  uint16_t h;
  std::memcpy(&h, r.tile + tile_block_offset(l, w.block_stride) + 2 * tile_param_index(kind, r.lane), 2);
  return fp16_to_float(h);
}

int32_t outlier_dot(const BinaryLayerView& w, const RowRef& r, const int8_t* xq) {
  const int8_t* ow = reinterpret_cast<const int8_t*>(r.tile + w.outlier_offset);
  int32_t s = 0;
  for (int k = 0; k < w.k_pad; ++k) s += int32_t(ow[tile_outlier_index(k, r.lane)]) * xq[k];
  return s;
}

void counts_scalar(const BinaryLayerView& w, const ActsView& x, int r0, int r1, int32_t* counts,
                   int32_t* odot) {
  for (int t = 0; t < x.n_tokens; ++t) {
    const uint64_t* tp = x.planes + int64_t(t) * x.n_chunks * 8;
    for (int j = r0; j < r1; ++j) {
      const RowRef r = row_ref(w, j);
      for (int l = 0; l < w.n_blocks; ++l)
        block_counts<bitcount>(w, r, tp, l, counts + ((int64_t(t) * w.out + j) * w.n_blocks + l) * 12);
      odot[int64_t(t) * w.out + j] = outlier_dot(w, r, x.outlier_q + int64_t(t) * x.k_pad);
    }
  }
}

void gemm_scalar(const BinaryLayerView& w, const ActsView& x, int r0, int r1, float* y,
                 float* /*scratch*/) {
  // Double precision throughout: counts and FP16 parameters are exact in double, so y is the
  // exact real value to ~1e-15 before the final rounding to float (see docs/format.md).
  const int nb = w.n_blocks;
  for (int j = r0; j < r1; ++j) {
    const RowRef r = row_ref(w, j);
    const TileHeader h = header(r);
    const double wscale = fp16_to_float(h.outlier_scale[r.lane]);
    for (int t = 0; t < x.n_tokens; ++t) {
      const uint64_t* tp = x.planes + int64_t(t) * x.n_chunks * 8;
      const float* m = x.m + t * 4;
      const int32_t* pop = x.plane_pop + int64_t(t) * nb * 4;
      double acc = 0;
      for (int l = 0; l < nb; ++l) {
        const double lo0 = param(w, r, l, 0), d0 = param(w, r, l, 1);
        const double lo1 = param(w, r, l, 2), d1 = param(w, r, l, 3);
        int32_t c[12];
        block_counts<wordcount>(w, r, tp, l, c);
        for (int a = 0; a < 4; ++a) {
          // c: pc(q&b&s), pc(q&b), pc(b&s); the ~s parts follow by subtraction.
          const double qs = c[a * 3], q = c[a * 3 + 1], bs = c[a * 3 + 2], b = pop[l * 4 + a];
          acc += double(m[a]) * (d1 * qs + lo1 * bs + d0 * (q - qs) + lo0 * (b - bs));
        }
      }
      acc += double(x.mc[t]) * h.rowsum[r.lane];
      if (w.K > 0)
        acc += wscale * double(x.outlier_scale[t]) * double(outlier_dot(w, r, x.outlier_q + int64_t(t) * x.k_pad));
      y[int64_t(t) * w.out + j] = float(acc);
    }
  }
}

void int8_dot_scalar(const int8_t* wm, const int32_t* wsum, int rows, int ld, const int8_t* x,
                     int n_tokens, int r0, int r1, int32_t* out) {
  for (int t = 0; t < n_tokens; ++t)
    for (int j = r0; j < r1; ++j) {
      int32_t s = 0;
      for (int k = 0; k < ld; ++k) s += int32_t(wm[int64_t(j) * ld + k]) * x[int64_t(t) * ld + k];
      out[int64_t(t) * rows + j] = s;
    }
}

// The scalar kernels are the reference: always bitwise.
const KernelTable kTable{"scalar", counts_scalar, gemm_scalar, int8_dot_scalar,
                       detail::kv_scores_scalar, detail::kv_wsum_scalar, 0, nullptr};

}  // namespace

const KernelTable& detail::table_scalar() { return kTable; }

}  // namespace binq
