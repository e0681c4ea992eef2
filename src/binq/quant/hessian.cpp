#include "binq/quant/hessian.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "binq/core/error.h"

// LAPACK from OpenBLAS (the image has no lapacke.h). The trailing size_t is gfortran's hidden
// string length: passing it keeps the call correct whether the routine is C or Fortran.
extern "C" {
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info, size_t);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda, int* info, size_t);
}

namespace binq {

HessianAccumulator::HessianAccumulator(int dim) : dim_(dim) {
  if (dim <= 0) fail("HessianAccumulator: dimension must be positive, got {}", dim);
  sum_.assign(size_t(dim) * dim, 0.0);
}

void HessianAccumulator::add(const float* x, int n) {
  if (sum_.empty()) fail("HessianAccumulator::add: used after release()");
  if (n <= 0) return;
  // Convert a bounded chunk to double and hand it to dsyrk: exact fp64 products and sums at
  // BLAS speed, with scratch memory independent of n.
  const int chunk = std::max(1, std::min(n, int((8u << 20) / (sizeof(double) * dim_))));
  std::vector<double> buf(size_t(chunk) * dim_);
  for (int r0 = 0; r0 < n; r0 += chunk) {
    const int rows = std::min(chunk, n - r0);
    const float* src = x + size_t(r0) * dim_;
    for (size_t i = 0; i < size_t(rows) * dim_; ++i) {
      if (!std::isfinite(src[i]))
        fail("HessianAccumulator: non-finite calibration input at token {}, channel {}",
             r0 + i / dim_, i % dim_);
      buf[i] = src[i];
    }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, dim_, rows, 1.0, buf.data(), dim_, 1.0,
                sum_.data(), dim_);
  }
  n_ += n;
}

void HessianAccumulator::merge(const HessianAccumulator& other) {
  if (other.dim_ != dim_)
    fail("HessianAccumulator::merge: dimension {} vs {}", other.dim_, dim_);
  if (sum_.empty() || other.sum_.empty()) fail("HessianAccumulator::merge: used after release()");
  for (size_t i = 0; i < sum_.size(); ++i) sum_[i] += other.sum_[i];
  n_ += other.n_;
}

std::vector<double> HessianAccumulator::finalize() const {
  if (n_ == 0) fail("HessianAccumulator::finalize: no calibration tokens were added");
  std::vector<double> H(sum_.size());
  const double scale = 2.0 / double(n_);
  for (int i = 0; i < dim_; ++i)
    for (int j = i; j < dim_; ++j) {
      const double v = sum_[size_t(i) * dim_ + j] * scale;
      H[size_t(i) * dim_ + j] = v;
      H[size_t(j) * dim_ + i] = v;
    }
  return H;
}

std::vector<double> HessianAccumulator::release() {
  if (n_ == 0) fail("HessianAccumulator::release: no calibration tokens were added");
  // finalize()'s loop in place: entry (i, j >= i) is read before it is written, and the lower
  // triangle it fills was never used by the accumulation.
  std::vector<double> H = std::move(sum_);
  const double scale = 2.0 / double(n_);
  for (int i = 0; i < dim_; ++i)
    for (int j = i; j < dim_; ++j) {
      const double v = H[size_t(i) * dim_ + j] * scale;
      H[size_t(i) * dim_ + j] = v;
      H[size_t(j) * dim_ + i] = v;
    }
  sum_.clear();
  n_ = 0;
  return H;
}

std::vector<int32_t> order_by_hessian_diag(const std::vector<double>& H, int dim) {
  if (H.size() != size_t(dim) * dim) fail("order_by_hessian_diag: H is not {0}x{0}", dim);
  std::vector<int32_t> perm(dim);
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(), [&](int32_t a, int32_t b) {
    return H[size_t(a) * dim + a] < H[size_t(b) * dim + b];
  });
  return perm;
}

std::vector<double> permute_symmetric(std::vector<double> H, int dim, const std::vector<int32_t>& perm) {
  if (H.size() != size_t(dim) * dim || perm.size() != size_t(dim))
    fail("permute_symmetric: sizes disagree with dim {}", dim);
  std::vector<uint8_t> placed(dim, 0);
  for (int32_t v : perm)
    if (v < 0 || v >= dim || placed[v]++) fail("permute_symmetric: perm is not a permutation of 0..{}", dim - 1);
  // Rows: row i := row perm[i], one cycle of the permutation at a time through one saved row.
  std::fill(placed.begin(), placed.end(), 0);
  std::vector<double> tmp(dim);
  auto row = [&](int i) { return H.data() + size_t(i) * dim; };
  for (int start = 0; start < dim; ++start) {
    if (placed[start]) continue;
    std::copy_n(row(start), dim, tmp.data());
    int i = start;
    while (perm[i] != start) {
      std::copy_n(row(perm[i]), dim, row(i));
      placed[i] = 1;
      i = perm[i];
    }
    std::copy_n(tmp.data(), dim, row(i));
    placed[i] = 1;
  }
  // Columns, row by row: entry j := entry perm[j].
  for (int i = 0; i < dim; ++i) {
    double* r = row(i);
    for (int j = 0; j < dim; ++j) tmp[j] = r[perm[j]];
    std::copy_n(tmp.data(), dim, r);
  }
  return H;
}

// Row-major symmetric A is its own transpose, so LAPACK (column-major) sees the same matrix.
// Column-major 'L' storage is row-major upper storage: dpotrf('L') yields row-major U, A = U^T U.
bool cholesky_upper_inplace(std::vector<double>& A, int dim) {
  int info = 0;
  dpotrf_("L", &dim, A.data(), &dim, &info, 1);
  if (info != 0) return false;
  for (int i = 1; i < dim; ++i)
    std::fill(A.begin() + size_t(i) * dim, A.begin() + size_t(i) * dim + i, 0.0);
  return true;
}

bool cholesky_inverse_inplace(std::vector<double>& A, int dim) {
  int info = 0;
  dpotrf_("L", &dim, A.data(), &dim, &info, 1);
  if (info != 0) return false;
  dpotri_("L", &dim, A.data(), &dim, &info, 1);
  if (info != 0) return false;
  // dpotri filled row-major upper; mirror it so callers get the full symmetric inverse.
  for (int i = 0; i < dim; ++i)
    for (int j = i + 1; j < dim; ++j) A[size_t(j) * dim + i] = A[size_t(i) * dim + j];
  return true;
}

PreparedHessian prepare_hessian(std::vector<double> H, int dim, double percdamp,
                                const char* name) {
  if (H.size() != size_t(dim) * dim) fail("prepare_hessian({}): H is not {}x{}", name, dim, dim);
  PreparedHessian out;
  out.dim = dim;
  out.dead.assign(dim, 0);
  double mean_diag = 0;
  for (int i = 0; i < dim; ++i) {
    double& d = H[size_t(i) * dim + i];
    if (!std::isfinite(d)) fail("prepare_hessian({}): non-finite diagonal at {}", name, i);
    // A channel that never fired carries no information; GPTQ pins it to 1 and zeroes the
    // weights so the solve stays well-posed and nothing is compensated into it.
    if (d == 0) {
      out.dead[i] = 1;
      d = 1;
    }
    mean_diag += d;
  }
  mean_diag /= dim;
  double damp = percdamp * mean_diag;
  // Factored in place, without a second [dim x dim] copy (~1 GB at width 11008). LAPACK's 'L'
  // routines read and write only the row-major upper triangle, so the strictly lower triangle
  // keeps H until the very end, and with the saved diagonal it restores H for a retry.
  const std::vector<double> diag = [&] {
    std::vector<double> d(dim);
    for (int i = 0; i < dim; ++i) d[i] = H[size_t(i) * dim + i];
    return d;
  }();
  auto at = [&](int i, int j) -> double& { return H[size_t(i) * dim + j]; };
  for (int attempt = 0; attempt < 4; ++attempt) {
    for (int i = 0; i < dim; ++i) at(i, i) = diag[i] + damp;
    // cholesky_inverse_inplace then cholesky_upper_inplace, minus the mirroring in between
    // (the second factorization does not read the lower triangle).
    int info = 0;
    dpotrf_("L", &dim, H.data(), &dim, &info, 1);
    if (info == 0) dpotri_("L", &dim, H.data(), &dim, &info, 1);
    if (info == 0) dpotrf_("L", &dim, H.data(), &dim, &info, 1);
    if (info == 0) {
      for (int i = 1; i < dim; ++i) std::fill_n(&at(i, 0), i, 0.0);
      out.U = std::move(H);
      out.damp_used = damp;
      return out;
    }
    for (int i = 0; i < dim; ++i)
      for (int j = i + 1; j < dim; ++j) at(i, j) = at(j, i);
    warn(fmt::format("prepare_hessian({}): H not positive definite with damping {:.3g}; "
                     "retrying with 10x",
                     name, damp));
    damp = damp > 0 ? damp * 10 : mean_diag * 1e-2;
  }
  fail("prepare_hessian({}): H is not positive definite even with damping {:.3g}", name, damp);
}

}  // namespace binq
