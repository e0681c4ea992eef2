#include "binq/quant/fake_quant_linear.h"

#include <cblas.h>
#include <fmt/format.h>

#include "binq/core/error.h"

namespace binq {

FakeQuantLinear::FakeQuantLinear(std::vector<float> weight, int out, int in, std::vector<int32_t> perm,
                                 int n_outliers, bool quantize_acts, const ActQuantConfig& cfg, std::string label)
    : w_(std::move(weight)),
      out_(out),
      in_(in),
      perm_(std::move(perm)),
      n_outliers_(n_outliers),
      quantize_acts_(quantize_acts),
      cfg_(cfg),
      label_(std::move(label)) {
  if (w_.size() != size_t(out) * in) fail("{}: weight has {} values, expected {} x {}", label_, w_.size(), out, in);
  if (perm_.size() != size_t(in)) fail("{}: permutation has {} entries, expected {}", label_, perm_.size(), in);
  if (n_outliers < 0 || n_outliers > in) fail("{}: {} outlier channels out of range", label_, n_outliers);
}

void FakeQuantLinear::forward(const float* x, int n, float* y) const {
  std::vector<float> xh(size_t(n) * in_);
  if (quantize_acts_) {
    fake_quantize_activations(x, n, in_, perm_.data(), n_outliers_, cfg_, xh.data());
  } else {
    for (int t = 0; t < n; ++t)
      for (int i = 0; i < in_; ++i) xh[size_t(t) * in_ + i] = x[size_t(t) * in_ + perm_[i]];
  }
  if (n == 1) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, out_, in_, 1.0f, w_.data(), in_, xh.data(), 1, 0.0f, y, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out_, in_, 1.0f, xh.data(), in_, w_.data(), in_,
                0.0f, y, out_);
  }
}


SimulatedBinaryLinear::SimulatedBinaryLinear(const BinaryLinearParams& p, const ActQuantConfig& cfg)
    : out_(p.out_features), in_(p.in_features), K_(p.n_outliers), perm_(p.perm), cfg_(cfg) {
  p.validate("SimulatedBinaryLinear");
  const int bw = p.binary_width(), nb = p.n_blocks();
  w_.resize(size_t(out_) * in_);
  for (int j = 0; j < out_; ++j) {
    double* row = w_.data() + size_t(j) * in_;
    for (int c = 0; c < bw; ++c) {
      const size_t wi = size_t(j) * bw + c, pi = size_t(j) * nb + c / p.block_size;
      const bool s = p.bitmap[wi];
      row[c] = double(s ? p.lo1[pi] : p.lo0[pi]) + double(s ? p.d1[pi] : p.d0[pi]) * p.sign[wi];
    }
    for (int k = 0; k < K_; ++k) row[bw + k] = double(p.outlier_scale[j]) * p.outlier_w[size_t(j) * K_ + k];
  }
}

void SimulatedBinaryLinear::forward(const float* x, int n, float* y) const {
  const int bw = in_ - K_;
  std::vector<double> xh(size_t(n) * in_), yd(size_t(n) * out_);
#pragma omp parallel if (int64_t(n) * in_ > 65536)
  {
    std::vector<float> xp(in_);
    std::vector<uint8_t> xq(std::max(bw, 1));
    std::vector<int8_t> oq(std::max(K_, 1));
#pragma omp for schedule(static)
    for (int t = 0; t < n; ++t) {
      for (int i = 0; i < in_; ++i) xp[i] = x[size_t(t) * in_ + perm_[i]];
      double* dst = xh.data() + size_t(t) * in_;
      if (bw > 0) {
        TokenQuant q = quantize_token(xp.data(), bw, cfg_, xq.data(), nullptr);
        for (int i = 0; i < bw; ++i) {
          double v = 0;
          for (int a = 0; a < cfg_.bits; ++a) v += ((xq[i] >> a) & 1) ? double(q.m[a]) : 0.0;
          dst[i] = v + double(q.mc);
        }
      }
      if (K_ > 0) {
        const double scale = quantize_outliers_token(xp.data() + bw, K_, cfg_.outlier_bits, oq.data(), nullptr);
        for (int k = 0; k < K_; ++k) dst[bw + k] = scale * oq[k];
      }
    }
  }
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out_, in_, 1.0, xh.data(), in_, w_.data(), in_, 0.0,
              yd.data(), out_);
  for (size_t i = 0; i < yd.size(); ++i) y[i] = float(yd[i]);
}

std::string SimulatedBinaryLinear::describe() const {
  return fmt::format("simulated W(1+1) {}x{} K={} (double precision)", out_, in_, K_);
}

}  // namespace binq
