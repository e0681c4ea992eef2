#include "binq/quant/gptq.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "binq/core/error.h"
#include "binq/core/half.h"
#include "binq/quant/clustering.h"

namespace binq {

BinaryQuantConfig ladder_config(int rung, int block_size, int n_outliers) {
  if (rung < 0 || rung >= kLadderRungs) fail("ladder_config: rung {} not in 0..4", rung);
  BinaryQuantConfig c;
  c.block_size = block_size;
  c.n_outliers = rung >= 1 ? n_outliers : 0;
  c.min_distance = rung >= 2;
  c.bitmap = rung >= 3;
  c.hessian_weighted = rung >= 4;
  c.compensation = Compensation::Block;  // the paper's Algorithm 1 on every rung
  return c;
}

const char* ladder_name(int rung) {
  static const char* names[kLadderRungs] = {"W1 GPTQ (sign binarization)", "+ INT8 outliers",
                                            "+ minimum-distance", "+ fine-grained group",
                                            "+ Hessian-weighted distance"};
  if (rung < 0 || rung >= kLadderRungs) fail("ladder_name: rung {} not in 0..4", rung);
  return names[rung];
}

const char* compensation_name(Compensation c) {
  switch (c) {
    case Compensation::None: return "none";
    case Compensation::Block: return "block";
    case Compensation::Column: return "column";
  }
  return "?";
}

std::string describe(const BinaryQuantConfig& c) {
  return fmt::format("B={} K={} cluster={} hessian_weighted={} bitmap={} min_distance={} "
                     "compensation={} damp={}",
                     c.block_size, c.n_outliers, c.cluster == ClusterMethod::EM ? "em" : "dp",
                     c.hessian_weighted, c.bitmap, c.min_distance,
                     compensation_name(c.compensation), c.percdamp);
}

namespace {
template <typename Layer>
double binary_bits_per_weight(const Layer& p, bool bitmap_used) {
  const double out = p.out_features, in = p.in_features;
  // A layer quantized without bitmap (all s = 0) needs neither the bitmap nor group 1's
  // (lo1, d1): count it as the 1-bit format it is.
  const double bits_each = bitmap_used ? 2.0 : 1.0, fp16_each = bitmap_used ? 4.0 : 2.0;
  const double bits = out * p.binary_width() * bits_each + out * p.n_blocks() * fp16_each * 16 +
                      out * p.n_outliers * 8.0 + (p.n_outliers > 0 ? out * 16.0 : 0.0) +
                      in * 32.0;
  return bits / (out * in);
}
}  // namespace

double bits_per_weight(const BinaryLinearParams& p) {
  bool bitmap_used = false;
  for (uint8_t s : p.bitmap) bitmap_used |= s != 0;
  return binary_bits_per_weight(p, bitmap_used);
}

double bits_per_weight(const CompactBinaryLinear& p) { return binary_bits_per_weight(p, p.bitmap_used()); }

float int8_row_scale(const float* w, int n) {
  float m = 0;
  for (int i = 0; i < n; ++i) m = std::max(m, std::abs(w[i]));
  return m > 0 ? round_to_fp16(m / 127.0f) : 0.0f;
}

int8_t int8_round(float w, float scale) {
  if (scale == 0) return 0;
  // FP16 rounding of the scale can push max|w|/scale a hair past 127: clamp.
  return int8_t(std::clamp(std::nearbyint(w / scale), -127.0f, 127.0f));
}

int RowBlockQuantizer::code(float w) const {
  if (nearest) {
    const float v[4] = {g.value(0, 0), g.value(0, 1), g.value(1, 0), g.value(1, 1)};
    int best = 0;
    float bd = std::abs(w - v[0]);
    for (int m = 1; m < (use_bitmap ? 4 : 2); ++m) {
      const float d = std::abs(w - v[m]);
      if (d < bd) bd = d, best = m;
    }
    return best;
  }
  const int s = use_bitmap && std::abs(w) > split ? 1 : 0;
  return 2 * s + (w >= (s ? mid1 : mid0) ? 1 : 0);
}

namespace {

// Sign binarization of a set: beta = weighted mean, alpha = weighted mean |w - beta|; the
// two decoded values are beta -/+ alpha. Returns the weighted squared error.
struct SignFit {
  double beta = 0, alpha = 0, err = 0;
};
SignFit sign_fit(const float* w, const float* imp, const uint8_t* member, uint8_t which, int n) {
  SignFit f;
  double sw = 0;
  for (int i = 0; i < n; ++i)
    if (member[i] == which) {
      const double p = imp ? imp[i] : 1.0;
      sw += p;
      f.beta += p * w[i];
    }
  if (sw == 0) return f;
  f.beta /= sw;
  for (int i = 0; i < n; ++i)
    if (member[i] == which) f.alpha += (imp ? imp[i] : 1.0) * std::abs(w[i] - f.beta);
  f.alpha /= sw;
  for (int i = 0; i < n; ++i)
    if (member[i] == which) {
      const double q = w[i] >= f.beta ? f.beta + f.alpha : f.beta - f.alpha;
      f.err += (imp ? imp[i] : 1.0) * (w[i] - q) * (w[i] - q);
    }
  return f;
}

}  // namespace

RowBlockQuantizer fit_row_block(const float* w, const float* imp, int n,
                                const BinaryQuantConfig& cfg) {
  RowBlockQuantizer r;
  r.use_bitmap = cfg.bitmap;
  r.nearest = cfg.min_distance;
  if (cfg.min_distance) {
    const int k = cfg.bitmap ? 4 : 2;
    const Clusters c = cfg.cluster == ClusterMethod::DP ? cluster_dp(w, imp, n, k)
                                                        : cluster_em(w, imp, n, k, cfg.em_iters);
    r.g = cfg.bitmap ? groups_from_centres(c.centres, true)
                     : groups_from_two_centres(c.centres[0], c.centres[1], true);
    return r;
  }
  std::vector<uint8_t> member(n, 0);
  if (!cfg.bitmap) {
    const SignFit f = sign_fit(w, imp, member.data(), 0, n);
    r.g = groups_from_two_centres(f.beta - f.alpha, f.beta + f.alpha, true);
    r.nearest = true;  // with two values, nearest == sign of (w - beta) up to FP16 rounding
    return r;
  }
  // Magnitude split (BiLLM's "concentrated vs sparse"): try thresholds at 31 quantiles of |w|
  // and keep the one whose two sign-binarized groups have the least (weighted) error.
  std::vector<float> mags(n);
  for (int i = 0; i < n; ++i) mags[i] = std::abs(w[i]);
  std::sort(mags.begin(), mags.end());
  double best = -1;
  SignFit b0, b1;
  for (int t = 1; t < 32; ++t) {
    const float split = n ? mags[std::min(n - 1, t * n / 32)] : 0.0f;
    for (int i = 0; i < n; ++i) member[i] = std::abs(w[i]) > split ? 1 : 0;
    const SignFit f0 = sign_fit(w, imp, member.data(), 0, n);
    const SignFit f1 = sign_fit(w, imp, member.data(), 1, n);
    if (best < 0 || f0.err + f1.err < best) best = f0.err + f1.err, b0 = f0, b1 = f1, r.split = split;
  }
  const GroupParams g0 = groups_from_two_centres(b0.beta - b0.alpha, b0.beta + b0.alpha, true);
  const GroupParams g1 = groups_from_two_centres(b1.beta - b1.alpha, b1.beta + b1.alpha, true);
  r.g = {g0.lo0, g0.d0, g1.lo0, g1.d0};
  r.mid0 = float(b0.beta);
  r.mid1 = float(b1.beta);
  return r;
}

BinaryLinearParams quantize_binary_linear(const float* W, int out, int in,
                                          const std::vector<double>& H,
                                          std::vector<int32_t> perm,
                                          const BinaryQuantConfig& cfg, const char* name,
                                          QuantDebug* debug) {
  if (H.size() != size_t(in) * in) fail("{}: Hessian is not {}x{}", name, in, in);
  if (perm.empty()) perm = order_by_hessian_diag(H, in);
  const PreparedHessian ph = prepare_hessian(permute_symmetric(H, in, perm), in, cfg.percdamp, name);
  return quantize_binary_linear(W, out, in, ph, perm, cfg, name, debug);
}

BinaryLinearParams quantize_binary_linear(const float* W, int out, int in,
                                          const PreparedHessian& ph,
                                          const std::vector<int32_t>& perm,
                                          const BinaryQuantConfig& cfg, const char* name,
                                          QuantDebug* debug) {
  if (out <= 0 || in <= 0) fail("{}: bad shape {}x{}", name, out, in);
  if (ph.dim != in || ph.U.size() != size_t(in) * in)
    fail("{}: prepared Hessian is {} wide, layer has {} inputs", name, ph.dim, in);
  if (perm.size() != size_t(in)) fail("{}: permutation has {} entries, expected {}", name, perm.size(), in);
  if (cfg.block_size <= 0) fail("{}: block size must be positive, got {}", name, cfg.block_size);
  if (cfg.n_outliers < 0 || cfg.n_outliers > in)
    fail("{}: {} outlier channels for {} inputs", name, cfg.n_outliers, in);

  BinaryLinearParams p;
  p.out_features = out;
  p.in_features = in;
  p.n_outliers = cfg.n_outliers;
  p.block_size = cfg.block_size;
  p.perm = perm;
  const int bw = p.binary_width(), nb = p.n_blocks(), K = cfg.n_outliers;
  p.sign.assign(size_t(out) * bw, 0);
  p.bitmap.assign(size_t(out) * bw, 0);
  for (auto* v : {&p.lo0, &p.d0, &p.lo1, &p.d1}) v->assign(size_t(out) * nb, 0.0f);
  p.outlier_w.assign(size_t(out) * K, 0);
  p.outlier_scale.assign(out, 0.0f);

  // Working copy in permuted order; dead channels are zeroed (GPTQ) so they absorb nothing.
  std::vector<float> Wp(size_t(out) * in);
  std::vector<uint8_t> seen(in, 0);
  for (int c = 0; c < in; ++c) {
    if (perm[c] < 0 || perm[c] >= in || seen[perm[c]]++)
      fail("{}: perm is not a permutation of 0..{}", name, in - 1);
  }
  for (int j = 0; j < out; ++j)
    for (int c = 0; c < in; ++c) {
      const float v = ph.dead[c] ? 0.0f : W[size_t(j) * in + perm[c]];
      if (!std::isfinite(v)) fail("{}: non-finite weight at row {}, column {}", name, j, perm[c]);
      Wp[size_t(j) * in + c] = v;
    }
  // GPTQ runs its updates in fp32; U is computed in fp64 and used in fp32 like Wp.
  std::vector<float> U(ph.U.begin(), ph.U.end());
  std::vector<float> diag(in), imp(in, 1.0f);
  for (int c = 0; c < in; ++c) {
    diag[c] = U[size_t(c) * in + c];
    if (cfg.hessian_weighted) imp[c] = 1.0f / (diag[c] * diag[c]);
  }
  if (debug) debug->quantized_at.assign(size_t(out) * in, 0.0f);
  std::vector<double> row_loss(out, 0.0);

  // Quantizes (and compensates inside) columns [b0, b1) of every row; fills E with the
  // scaled errors (w - q) / U_cc used to update the columns after b1. `code` writes storage.
  const bool column = cfg.compensation == Compensation::Column;
  std::vector<float> E;
  auto push_error_forward = [&](int b0, int b1) {
    if (cfg.compensation == Compensation::None || b1 >= in) return;
    // W[:, b1:] -= E[:, 0:b1-b0] * U[b0:b1, b1:]
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, out, in - b1, b1 - b0, -1.0f,
                E.data(), b1 - b0, U.data() + size_t(b0) * in + b1, in, 1.0f, Wp.data() + b1, in);
  };

  for (int blk = 0; blk < nb; ++blk) {
    const int b0 = blk * cfg.block_size, b1 = std::min(bw, b0 + cfg.block_size), n = b1 - b0;
    E.assign(size_t(out) * n, 0.0f);
#pragma omp parallel for schedule(dynamic, 16)
    for (int j = 0; j < out; ++j) {
      float* row = Wp.data() + size_t(j) * in;
      // Centres come from the block as it stands when the block starts (both modes).
      const RowBlockQuantizer rq = fit_row_block(row + b0, imp.data() + b0, n, cfg);
      const size_t pb = size_t(j) * nb + blk;
      p.lo0[pb] = rq.g.lo0, p.d0[pb] = rq.g.d0, p.lo1[pb] = rq.g.lo1, p.d1[pb] = rq.g.d1;
      for (int c = b0; c < b1; ++c) {
        const float w = row[c];
        const int code = rq.code(w);
        const float q = rq.g.value(code >> 1, code & 1);
        p.sign[size_t(j) * bw + c] = uint8_t(code & 1);
        p.bitmap[size_t(j) * bw + c] = uint8_t(code >> 1);
        if (debug) debug->quantized_at[size_t(j) * in + c] = w;
        const float err = (w - q) / diag[c];
        row_loss[j] += double(err) * err;
        E[size_t(j) * n + (c - b0)] = err;
        // Column mode: GPTQ's intra-block feedback (rows are independent inside a block).
        if (column)
          for (int c2 = c + 1; c2 < b1; ++c2) row[c2] -= err * U[size_t(c) * in + c2];
      }
    }
    push_error_forward(b0, b1);
  }

  // Outliers last, after they have absorbed every binary block's error (Atom).
  if (K > 0) {
#pragma omp parallel for schedule(static)
    for (int j = 0; j < out; ++j) {
      float* row = Wp.data() + size_t(j) * in;
      const float scale = int8_row_scale(row + bw, K);
      p.outlier_scale[j] = scale;
      for (int c = bw; c < in; ++c) {
        const float w = row[c];
        const int8_t qi = int8_round(w, scale);
        p.outlier_w[size_t(j) * K + (c - bw)] = qi;
        if (debug) debug->quantized_at[size_t(j) * in + c] = w;
        const float err = (w - scale * float(qi)) / diag[c];
        row_loss[j] += double(err) * err;
        if (column)
          for (int c2 = c + 1; c2 < in; ++c2) row[c2] -= err * U[size_t(c) * in + c2];
      }
    }
  }
  if (debug) {
    debug->proxy_loss = 0;
    for (double v : row_loss) debug->proxy_loss += v;
  }
  p.validate(name);
  return p;
}

}  // namespace binq
