// Calibration Hessian H = (2/N) sum_t x_t x_t^T of one linear input (method.md §2) and the GPTQ
// preparation of it (method.md §3.1, §3.4): dead channels, damping, Cholesky inverse, and the
// upper Cholesky factor U of H^-1 whose rows drive error compensation.
//
// All matrices here are dense, row-major [dim x dim] doubles. Accumulation is in double because
// the sums run over ~1e6 tokens and fp32 loses the small eigen-directions that GPTQ relies on.
#pragma once
#include <cstdint>
#include <vector>

namespace binq {

class HessianAccumulator {
 public:
  explicit HessianAccumulator(int dim);

  int dim() const { return dim_; }
  int64_t n_tokens() const { return n_; }

  // Adds the rows of x ([n x dim], row-major) as calibration tokens. Non-finite input fails.
  void add(const float* x, int n);
  // Adds another accumulator's tokens (e.g. one per thread or per calibration shard).
  void merge(const HessianAccumulator& other);
  // H = (2/N) sum x x^T, full symmetric [dim x dim]. Fails if no token was added.
  std::vector<double> finalize() const;
  // The same H, built in the accumulator's own storage (no second [dim x dim] matrix, ~1 GB at
  // width 11008); the accumulator must not be used afterwards.
  std::vector<double> release();

 private:
  int dim_;
  int64_t n_ = 0;
  std::vector<double> sum_;  // upper triangle (row-major) of sum x x^T; lower part unused
};

// Input-channel order by diag(H) ascending (method.md §3.1); ties keep the lower index first so
// the order is deterministic. perm[i] = original channel placed at position i.
std::vector<int32_t> order_by_hessian_diag(const std::vector<double>& H, int dim);

// P H P^T for perm as above: result[i][j] = H[perm[i]][perm[j]]. Permutes in place (O(dim)
// scratch), so a caller that moves H in never holds two [dim x dim] matrices.
std::vector<double> permute_symmetric(std::vector<double> H, int dim, const std::vector<int32_t>& perm);

// Upper Cholesky factor U of H^-1 (H^-1 = U^T U), computed from H in place of GPTQ's
// torch.linalg.cholesky(cholesky_inverse(cholesky(H)), upper=True).
struct PreparedHessian {
  int dim = 0;
  std::vector<double> U;       // [dim x dim] row-major, zero below the diagonal
  std::vector<uint8_t> dead;   // [dim] 1 where diag(H) was 0: the weight column must be zeroed
  double damp_used = 0;        // the absolute value added to the diagonal
};

// Takes an undamped H (already permuted if the caller reorders): marks dead channels (diag 0),
// sets their diagonal to 1, adds percdamp * mean(diag H) * I, inverts through Cholesky and
// factors the inverse. If H is not positive definite after damping, the damping is raised 10x
// (at most 3 times, with a warning) before failing; `name` identifies the layer in messages.
PreparedHessian prepare_hessian(std::vector<double> H, int dim, double percdamp,
                                const char* name);

// In-place Cholesky helpers on row-major symmetric matrices (LAPACK via OpenBLAS).
// Both return false instead of failing when the matrix is not positive definite.
bool cholesky_upper_inplace(std::vector<double>& A, int dim);   // A := U with A = U^T U
bool cholesky_inverse_inplace(std::vector<double>& A, int dim); // A := A^-1 (full, symmetric)

}  // namespace binq
