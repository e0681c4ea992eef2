#include "binq/quant/baselines.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "binq/core/error.h"
#include "binq/quant/gptq.h"
#include "binq/quant/hessian.h"

namespace binq {

UniformGrid UniformGrid::fit(const float* w, int n, int bits) {
  if (bits < 1 || bits > 16) fail("UniformGrid: bits must be in 1..16, got {}", bits);
  float lo = 0, hi = 0;
  for (int i = 0; i < n; ++i) lo = std::min(lo, w[i]), hi = std::max(hi, w[i]);
  UniformGrid g;
  g.maxq = float((1 << bits) - 1);
  if (lo == hi) lo = -1, hi = 1;  // all-zero row: any grid reproduces it
  g.scale = (hi - lo) / g.maxq;
  g.zero = std::nearbyint(-lo / g.scale);
  return g;
}

float UniformGrid::quantize(float w) const {
  const float q = std::clamp(std::nearbyint(w / scale) + zero, 0.0f, maxq);
  return scale * (q - zero);
}

std::vector<float> rtn_quantize(const float* W, int out, int in, int bits) {
  std::vector<float> Q(size_t(out) * in);
  for (int j = 0; j < out; ++j) {
    const float* row = W + size_t(j) * in;
    const UniformGrid g = UniformGrid::fit(row, in, bits);
    for (int c = 0; c < in; ++c) Q[size_t(j) * in + c] = g.quantize(row[c]);
  }
  return Q;
}

namespace {

// Permuted working copy + prepared Hessian shared by the GPTQ-family baselines.
struct Work {
  std::vector<float> Wp, U, diag;
  std::vector<int32_t> perm;
};

Work prepare_work(const float* W, int out, int in, const PreparedHessian& ph,
                  std::vector<int32_t> perm, const char* name) {
  if (ph.dim != in || ph.U.size() != size_t(in) * in)
    fail("{}: prepared Hessian is {} wide, layer has {} inputs", name, ph.dim, in);
  if (perm.size() != size_t(in)) fail("{}: permutation has {} entries, expected {}", name, perm.size(), in);
  Work w;
  w.perm = std::move(perm);
  w.U.assign(ph.U.begin(), ph.U.end());
  w.diag.resize(in);
  for (int c = 0; c < in; ++c) w.diag[c] = w.U[size_t(c) * in + c];
  w.Wp.resize(size_t(out) * in);
  for (int j = 0; j < out; ++j)
    for (int c = 0; c < in; ++c)
      w.Wp[size_t(j) * in + c] = ph.dead[c] ? 0.0f : W[size_t(j) * in + w.perm[c]];
  return w;
}

// W[:, b1:] -= E[:, 0:b1-b0] * U[b0:b1, b1:]
void push_forward(Work& w, int out, int in, const std::vector<float>& E, int b0, int b1) {
  if (b1 >= in) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, out, in - b1, b1 - b0, -1.0f, E.data(),
              b1 - b0, w.U.data() + size_t(b0) * in + b1, in, 1.0f, w.Wp.data() + b1, in);
}

std::vector<float> unpermute(const std::vector<float>& Qp, int out, int in,
                             const std::vector<int32_t>& perm) {
  std::vector<float> Q(Qp.size());
  for (int j = 0; j < out; ++j)
    for (int c = 0; c < in; ++c) Q[size_t(j) * in + perm[c]] = Qp[size_t(j) * in + c];
  return Q;
}

// Mean-shifted sign binarization of the listed values, in place: v := beta +/- alpha.
void binarize_inplace(std::vector<float>& v) {
  if (v.empty()) return;
  double beta = 0, alpha = 0;
  for (float x : v) beta += x;
  beta /= double(v.size());
  for (float x : v) alpha += std::abs(x - beta);
  alpha /= double(v.size());
  for (float& x : v) x = float(x >= beta ? beta + alpha : beta - alpha);
}

}  // namespace

DequantizedLayer gptq_uniform_quantize(const float* W, int out, int in,
                                       const std::vector<double>& H, std::vector<int32_t> perm,
                                       const UniformGptqConfig& cfg, const char* name) {
  if (H.size() != size_t(in) * in) fail("{}: Hessian is not {}x{}", name, in, in);
  if (perm.empty()) {
    perm.resize(in);
    std::iota(perm.begin(), perm.end(), 0);
    if (cfg.reorder) perm = order_by_hessian_diag(H, in);
  }
  if (perm.size() != size_t(in)) fail("{}: permutation has {} entries, expected {}", name, perm.size(), in);
  const PreparedHessian ph = prepare_hessian(permute_symmetric(H, in, perm), in, cfg.percdamp, name);
  return gptq_uniform_quantize(W, out, in, ph, std::move(perm), cfg, name);
}

DequantizedLayer gptq_uniform_quantize(const float* W, int out, int in, const PreparedHessian& ph,
                                       std::vector<int32_t> perm, const UniformGptqConfig& cfg,
                                       const char* name) {
  if (cfg.n_outliers < 0 || cfg.n_outliers > in)
    fail("{}: {} outlier channels for {} inputs", name, cfg.n_outliers, in);
  if (cfg.block_size <= 0 || cfg.group_size < 0) fail("{}: bad block/group size", name);
  Work w = prepare_work(W, out, in, ph, std::move(perm), name);
  const int K = cfg.n_outliers, bw = in - K;
  std::vector<float> Qp(size_t(out) * in);
  std::vector<UniformGrid> grid(out);
  std::vector<float> oscale(out);
  std::vector<double> row_loss(out, 0.0);
  if (cfg.group_size == 0)  // GPTQ: per-channel grid from the weights before any update
    for (int j = 0; j < out; ++j) grid[j] = UniformGrid::fit(w.Wp.data() + size_t(j) * in, bw, cfg.bits);

  for (int b0 = 0; b0 < in; b0 += cfg.block_size) {
    const int b1 = std::min(in, b0 + cfg.block_size), n = b1 - b0;
    std::vector<float> E(size_t(out) * n);
#pragma omp parallel for schedule(static)
    for (int j = 0; j < out; ++j) {
      float* row = w.Wp.data() + size_t(j) * in;
      for (int c = b0; c < b1; ++c) {
        if (c == bw && K > 0) oscale[j] = int8_row_scale(row + bw, K);  // after compensation
        if (c < bw && cfg.group_size > 0 && c % cfg.group_size == 0)
          grid[j] = UniformGrid::fit(row + c, std::min(cfg.group_size, bw - c), cfg.bits);
        const float q = c < bw ? grid[j].quantize(row[c]) : oscale[j] * int8_round(row[c], oscale[j]);
        Qp[size_t(j) * in + c] = q;
        const float err = (row[c] - q) / w.diag[c];
        row_loss[j] += double(err) * err;
        E[size_t(j) * n + (c - b0)] = err;
        for (int c2 = c + 1; c2 < b1; ++c2) row[c2] -= err * w.U[size_t(c) * in + c2];
      }
    }
    push_forward(w, out, in, E, b0, b1);
  }
  DequantizedLayer r;
  r.weight = unpermute(Qp, out, in, w.perm);
  r.perm = w.perm;
  for (double v : row_loss) r.proxy_loss += v;
  // FP16 scale + zero point (bits wide) per row or per group; INT8 + FP16 scale per outlier row.
  const double groups = cfg.group_size > 0 ? std::ceil(double(bw) / cfg.group_size) : 1.0;
  const double bits = double(out) * (double(bw) * cfg.bits + groups * (16 + cfg.bits)) +
                      double(out) * (8.0 * K + (K > 0 ? 16 : 0));
  r.bits_per_weight = bits / (double(out) * in);
  return r;
}

DequantizedLayer billm_quantize(const float* W, int out, int in, const std::vector<double>& H,
                                const BillmConfig& cfg, const char* name) {
  if (H.size() != size_t(in) * in) fail("{}: Hessian is not {}x{}", name, in, in);
  return billm_quantize(W, out, in, prepare_hessian(H, in, cfg.percdamp, name), cfg, name);
}

DequantizedLayer billm_quantize(const float* W, int out, int in, const PreparedHessian& ph,
                                const BillmConfig& cfg, const char* name) {
  if (cfg.block_size <= 0) fail("{}: bad block size {}", name, cfg.block_size);
  std::vector<int32_t> ident(in);
  std::iota(ident.begin(), ident.end(), 0);
  Work w = prepare_work(W, out, in, ph, ident, name);
  std::vector<float> Qp(size_t(out) * in);
  // The non-salient rule: |w| split into two groups, each sign-binarized, Hessian-weighted.
  BinaryQuantConfig split_cfg;
  split_cfg.min_distance = false;
  split_cfg.bitmap = true;
  int64_t n_salient_total = 0;

  for (int b0 = 0; b0 < in; b0 += cfg.block_size) {
    const int b1 = std::min(in, b0 + cfg.block_size), n = b1 - b0;
    std::vector<float> imp(n);
    for (int c = 0; c < n; ++c) imp[c] = 1.0f / (w.diag[b0 + c] * w.diag[b0 + c]);
    // Column saliency sum_j w^2 / U_cc^2 (BiLLM's structured salient columns).
    std::vector<double> sal(n, 0.0);
    for (int j = 0; j < out; ++j)
      for (int c = 0; c < n; ++c) {
        const double v = w.Wp[size_t(j) * in + b0 + c];
        sal[c] += v * v * imp[c];
      }
    std::vector<int> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return sal[a] > sal[b]; });

    double best_err = -1;
    std::vector<float> best_q, cand_q(size_t(out) * n);
    int best_s = 0;
    for (int s : cfg.salient_candidates) {
      if (s < 0 || s > n) continue;
      std::vector<uint8_t> salient(n, 0);
      for (int i = 0; i < s; ++i) salient[order[i]] = 1;
      double err = 0;
#pragma omp parallel for schedule(dynamic, 16) reduction(+ : err)
      for (int j = 0; j < out; ++j) {
        const float* row = w.Wp.data() + size_t(j) * in + b0;
        std::vector<float> sv, nv, nimp, r1;
        for (int c = 0; c < n; ++c) {
          if (salient[c]) sv.push_back(row[c]);
          else nv.push_back(row[c]), nimp.push_back(imp[c]);
        }
        // Residual binarization: binarize, then binarize what is left, and add.
        std::vector<float> b = sv;
        binarize_inplace(b);
        r1.resize(sv.size());
        for (size_t i = 0; i < sv.size(); ++i) r1[i] = sv[i] - b[i];
        binarize_inplace(r1);
        const RowBlockQuantizer rq = fit_row_block(nv.data(), nimp.data(), int(nv.size()), split_cfg);
        size_t si = 0, ni = 0;
        for (int c = 0; c < n; ++c) {
          float q;
          if (salient[c]) q = b[si] + r1[si], ++si;
          else {
            const int code = rq.code(nv[ni++]);
            q = rq.g.value(code >> 1, code & 1);
          }
          cand_q[size_t(j) * n + c] = q;
          err += double(imp[c]) * (row[c] - q) * (row[c] - q);
        }
      }
      if (best_err < 0 || err < best_err) best_err = err, best_q = cand_q, best_s = s;
    }
    n_salient_total += best_s;
    std::vector<float> E(size_t(out) * n);
    for (int j = 0; j < out; ++j)
      for (int c = 0; c < n; ++c) {
        const float q = best_q[size_t(j) * n + c], v = w.Wp[size_t(j) * in + b0 + c];
        Qp[size_t(j) * in + b0 + c] = q;
        E[size_t(j) * n + c] = (v - q) / w.diag[b0 + c];
      }
    push_forward(w, out, in, E, b0, b1);
  }
  DequantizedLayer r;
  r.weight = unpermute(Qp, out, in, w.perm);
  r.perm = w.perm;
  r.salient_columns = n_salient_total;
  for (int j = 0; j < out; ++j)
    for (int c = 0; c < in; ++c) {
      const double e = (w.Wp[size_t(j) * in + c] - Qp[size_t(j) * in + c]) / w.diag[c];
      r.proxy_loss += e * e;
    }
  const double nblocks = std::ceil(double(in) / cfg.block_size);
  const double bits = 2.0 * out * in + out * nblocks * 8 * 16 + double(in);
  r.bits_per_weight = bits / (double(out) * in);
  return r;
}

}  // namespace binq
