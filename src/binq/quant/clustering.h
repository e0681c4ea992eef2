// Weighted 1-D clustering of the weights of one (row, block) into k <= 4 centres, minimising
// sum_i imp_i (w_i - c(i))^2 (method.md §3.5), and the mapping of the 4 centres onto the
// stored W(1+1) parameters (sign q, bitmap s, lo_s, d_s; method.md §3.6).
//
// imp may be nullptr (all ones: the plain, unweighted distance). Importances must be > 0.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <vector>

namespace binq {

struct Clusters {
  int k = 0;                         // centres requested (1..4)
  std::array<double, 4> centres{};   // ascending; unused / empty slots repeat a neighbour
  std::vector<uint8_t> assign;       // [n] index into centres
  double loss = 0;                   // sum_i imp_i (w_i - centres[assign_i])^2
  int iterations = 0;                // EM iterations run (0 for DP)
};

// Called after every EM iteration (E-step + M-step) with the loss at that point; tests use it
// to check that the loss never increases.
using EmObserver = std::function<void(int iteration, double loss)>;

// Lloyd/EM: init from importance-weighted quantiles (at (m + 0.5) / k of the total weight),
// E-step = nearest centre (ties keep the current one), M-step = importance-weighted mean.
// An empty cluster is re-seeded at the element with the largest weighted error, which strictly
// lowers the loss. Stops after max_iters or when no assignment changes.
Clusters cluster_em(const float* w, const float* imp, int n, int k, int max_iters = 20,
                    const EmObserver* observer = nullptr);

// Exact optimum by dynamic programming over the sorted values (optimal 1-D clusters are
// contiguous in sorted order), with prefix sums of imp, imp*w, imp*w^2. Exhaustive scans every
// split point, O(k n^2); Monotone uses the monotonicity of optimal split points (divide and
// conquer, O(k n log n)) and gives the same optimum (up to round-off in ties); ~3x faster on
// n = 128.
enum class DpSearch { Monotone, Exhaustive };
Clusters cluster_dp(const float* w, const float* imp, int n, int k,
                    DpSearch search = DpSearch::Monotone);

// sum_i imp_i (w_i - centres[assign_i])^2 in double.
double weighted_loss(const float* w, const float* imp, int n, const double* centres,
                     const uint8_t* assign);

// The per-(row, block) stored parameters. Value of an element with bitmap s and sign q:
// s == 0: lo0 + d0 * q;  s == 1: lo1 + d1 * q  (evaluated in float, as dequantize() does).
struct GroupParams {
  float lo0 = 0, d0 = 0, lo1 = 0, d1 = 0;
  float value(int s, int q) const { return s ? lo1 + d1 * float(q) : lo0 + d0 * float(q); }
};

// Sorted centres c0..c3 -> lo0 = c0, d0 = c1 - c0, lo1 = c2, d1 = c3 - c2 (index = 2 s + q).
// With round_fp16, lo is rounded first and d is then chosen as round_fp16(c_hi - lo), so that
// lo + d lands as close to c_hi as FP16 allows.
GroupParams groups_from_centres(const std::array<double, 4>& c, bool round_fp16);
// No bitmap: one group c0 < c1; group 1 repeats group 0 so any bitmap bit decodes the same.
GroupParams groups_from_two_centres(double c0, double c1, bool round_fp16);

// Nearest of the (up to) 4 decoded values for each w: writes sign q and bitmap s. With
// use_bitmap false only group 0 is considered and s = 0. Ties go to the lower index 2 s + q.
void assign_nearest_group(const float* w, int n, const GroupParams& g, bool use_bitmap,
                          uint8_t* sign, uint8_t* bitmap);

}  // namespace binq
