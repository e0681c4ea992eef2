#include "binq/quant/clustering.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "binq/core/error.h"
#include "binq/core/half.h"

namespace binq {
namespace {

inline double imp_at(const float* imp, int i) { return imp ? double(imp[i]) : 1.0; }

void check_args(const char* who, const float* w, const float* imp, int n, int k) {
  if (k < 1 || k > 4) fail("{}: k must be in 1..4, got {}", who, k);
  if (n < 0) fail("{}: negative element count {}", who, n);
  for (int i = 0; i < n; ++i) {
    if (!std::isfinite(w[i])) fail("{}: non-finite weight at element {}", who, i);
    if (imp && !(imp[i] > 0 && std::isfinite(imp[i])))
      fail("{}: importance must be positive and finite, got {} at element {}", who, imp[i], i);
  }
}

// Sorts centres ascending, remaps assignments, and fills slots >= `used` (empty clusters)
// with the largest used centre so the result is still sorted.
void finish(Clusters& c, const float* w, const float* imp, int n, int used) {
  std::array<int, 4> order{0, 1, 2, 3};
  // Insertion sort of at most 4 entries (std::sort here trips GCC's -Warray-bounds).
  for (int a = 1; a < used; ++a)
    for (int b = a; b > 0 && c.centres[order[b]] < c.centres[order[b - 1]]; --b)
      std::swap(order[b], order[b - 1]);
  std::array<double, 4> sorted{};
  std::array<uint8_t, 4> remap{};
  for (int r = 0; r < used; ++r) {
    sorted[r] = c.centres[order[r]];
    remap[order[r]] = uint8_t(r);
  }
  for (int r = used; r < 4; ++r) sorted[r] = used > 0 ? sorted[used - 1] : 0.0;
  for (auto& a : c.assign) a = remap[a];
  c.centres = sorted;
  c.loss = weighted_loss(w, imp, n, c.centres.data(), c.assign.data());
}

// M-step: importance-weighted mean of each non-empty cluster; empty ones keep their centre.
// A constant cluster gets its value exactly (the weighted mean could be off by round-off,
// which would make ties between equal values flip and clusters empty out).
void m_step(Clusters& c, const float* w, const float* imp, int n, int k) {
  std::array<double, 4> sw{}, swx{};
  std::array<float, 4> lo, hi;
  lo.fill(INFINITY), hi.fill(-INFINITY);
  for (int i = 0; i < n; ++i) {
    const int a = c.assign[i];
    sw[a] += imp_at(imp, i);
    swx[a] += imp_at(imp, i) * double(w[i]);
    lo[a] = std::min(lo[a], w[i]), hi[a] = std::max(hi[a], w[i]);
  }
  for (int m = 0; m < k; ++m)
    if (sw[m] > 0) c.centres[m] = lo[m] == hi[m] ? double(lo[m]) : swx[m] / sw[m];
}

}  // namespace

double weighted_loss(const float* w, const float* imp, int n, const double* centres,
                     const uint8_t* assign) {
  double loss = 0;
  for (int i = 0; i < n; ++i) {
    const double e = double(w[i]) - centres[assign[i]];
    loss += imp_at(imp, i) * e * e;
  }
  return loss;
}

Clusters cluster_em(const float* w, const float* imp, int n, int k, int max_iters,
                    const EmObserver* observer) {
  check_args("cluster_em", w, imp, n, k);
  Clusters c;
  c.k = k;
  c.assign.assign(n, 0);
  if (n == 0) return c;

  // Importance-weighted quantiles of the sorted values: robust to outliers in w and already
  // biased toward the elements that matter most.
  std::vector<int> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return w[a] < w[b]; });
  double total = 0;
  for (int i = 0; i < n; ++i) total += imp_at(imp, i);
  {
    double cum = 0;
    int m = 0;
    for (int r = 0; r < n && m < k; ++r) {
      cum += imp_at(imp, idx[r]);
      while (m < k && cum >= (m + 0.5) / k * total) c.centres[m++] = w[idx[r]];
    }
    for (; m < k; ++m) c.centres[m] = w[idx[n - 1]];
  }

  std::vector<double> err(n);
  for (int it = 0; it < max_iters; ++it) {
    // E-step. The weighted distance imp_i (w_i - c)^2 has the same argmin as |w_i - c|.
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      int best = c.assign[i];
      double bd = std::abs(double(w[i]) - c.centres[best]);
      for (int m = 0; m < k; ++m) {
        const double d = std::abs(double(w[i]) - c.centres[m]);
        if (d < bd) bd = d, best = m;
      }
      if (it == 0 || best != c.assign[i]) ++changed;
      c.assign[i] = uint8_t(best);
    }
    // Empty clusters: move the element with the largest weighted error (from a cluster that
    // keeps at least one member) onto its own centre. Its error drops to 0 and nobody else's
    // changes, so the loss strictly decreases; nothing to do if every error is already 0.
    // Only clusters holding at least two distinct values qualify: in a constant cluster the
    // "error" is round-off of the mean, and chasing it would oscillate forever.
    std::array<int, 4> count{};
    std::array<float, 4> lo, hi;
    lo.fill(INFINITY), hi.fill(-INFINITY);
    for (int i = 0; i < n; ++i) {
      const int a = c.assign[i];
      ++count[a], lo[a] = std::min(lo[a], w[i]), hi[a] = std::max(hi[a], w[i]);
    }
    for (int m = 0; m < k; ++m) {
      if (count[m] > 0) continue;
      int worst = -1;
      double we = 0;
      for (int i = 0; i < n; ++i) {
        if (count[c.assign[i]] < 2 || lo[c.assign[i]] == hi[c.assign[i]]) continue;
        const double e = double(w[i]) - c.centres[c.assign[i]];
        const double v = imp_at(imp, i) * e * e;
        if (v > we) we = v, worst = i;
      }
      if (worst < 0) continue;
      --count[c.assign[worst]];
      c.assign[worst] = uint8_t(m);
      count[m] = 1, lo[m] = hi[m] = w[worst];
      c.centres[m] = w[worst];
      ++changed;
    }
    m_step(c, w, imp, n, k);
    c.iterations = it + 1;
    if (observer)
      (*observer)(it, weighted_loss(w, imp, n, c.centres.data(), c.assign.data()));
    if (changed == 0) break;
  }
  // Clusters that stayed empty (fewer distinct values than k) are collapsed onto used ones.
  std::array<int, 4> count{};
  for (int i = 0; i < n; ++i) ++count[c.assign[i]];
  std::array<uint8_t, 4> compact{};
  int used = 0;
  for (int m = 0; m < k; ++m)
    if (count[m] > 0) {
      compact[m] = uint8_t(used);
      c.centres[used++] = c.centres[m];
    }
  for (auto& a : c.assign) a = compact[a];
  finish(c, w, imp, n, used);
  return c;
}

Clusters cluster_dp(const float* w, const float* imp, int n, int k, DpSearch search) {
  check_args("cluster_dp", w, imp, n, k);
  Clusters c;
  c.k = k;
  c.assign.assign(n, 0);
  if (n == 0) return c;
  const int kk = std::min(k, n);

  std::vector<int> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return w[a] < w[b]; });
  // Prefix sums of values shifted by the weighted mean: keeps S2 - S1^2/S0 free of the
  // cancellation an offset (e.g. all weights near 0.5) would cause.
  double total = 0, mean = 0;
  for (int i = 0; i < n; ++i) total += imp_at(imp, i), mean += imp_at(imp, i) * double(w[i]);
  mean /= total;
  std::vector<double> S0(n + 1, 0), S1(n + 1, 0), S2(n + 1, 0);
  for (int r = 0; r < n; ++r) {
    const double p = imp_at(imp, idx[r]), x = double(w[idx[r]]) - mean;
    S0[r + 1] = S0[r] + p;
    S1[r + 1] = S1[r] + p * x;
    S2[r + 1] = S2[r] + p * x * x;
  }
  auto cost = [&](int a, int b) {  // sorted range [a, b), non-empty
    const double s0 = S0[b] - S0[a], s1 = S1[b] - S1[a], s2 = S2[b] - S2[a];
    return std::max(0.0, s2 - s1 * s1 / s0);
  };
  // D[m][j]: best loss of the first j sorted values in m + 1 clusters; arg = start of the last.
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> D(kk, std::vector<double>(n + 1, kInf));
  std::vector<std::vector<int>> arg(kk, std::vector<int>(n + 1, 0));
  for (int j = 1; j <= n; ++j) D[0][j] = cost(0, j);
  // Best start i in [ilo, ihi] of the last segment for the first j values, m + 1 segments.
  auto best_start = [&](int m, int j, int ilo, int ihi) {
    double best = kInf;
    int bi = std::max(ilo, m);
    for (int i = std::max(ilo, m); i <= std::min(ihi, j - 1); ++i) {
      const double v = D[m - 1][i] + cost(i, j);
      if (v < best) best = v, bi = i;
    }
    D[m][j] = best;
    arg[m][j] = bi;
    return bi;
  };
  // The 1-D weighted SSE cost satisfies the quadrangle inequality, so the (leftmost) optimal
  // start is non-decreasing in j: divide and conquer over j needs O(n log n) per level instead
  // of O(n^2) (Groenlund et al. 2017). The exhaustive scan stays available as the reference.
  std::function<void(int, int, int, int, int)> solve = [&](int m, int jlo, int jhi, int ilo,
                                                           int ihi) {
    if (jlo > jhi) return;
    const int jm = (jlo + jhi) / 2;
    const int bi = best_start(m, jm, ilo, ihi);
    solve(m, jlo, jm - 1, ilo, bi);
    solve(m, jm + 1, jhi, bi, ihi);
  };
  for (int m = 1; m < kk; ++m) {
    if (search == DpSearch::Exhaustive)
      for (int j = m + 1; j <= n; ++j) best_start(m, j, m, j - 1);
    else
      solve(m, m + 1, n, m, n - 1);
  }
  // Backtrack the segment boundaries.
  int j = n;
  for (int m = kk - 1; m >= 0; --m) {
    const int i = m > 0 ? arg[m][j] : 0;
    for (int r = i; r < j; ++r) c.assign[idx[r]] = uint8_t(m);
    j = i;
  }
  // Prefix-sum costs lose ~eps * sum(imp w^2) to cancellation (e.g. two clusters at +-1000
  // with 0.01 spread), so the DP may pick a partition that is optimal only up to that
  // round-off. Lloyd steps computed directly (means of members) can only lower the true loss.
  for (int it = 0; it < 5; ++it) {
    m_step(c, w, imp, n, kk);
    bool changed = false;
    for (int i = 0; i < n; ++i) {
      int best = c.assign[i];
      double bd = std::abs(double(w[i]) - c.centres[best]);
      for (int m = 0; m < kk; ++m)
        if (std::abs(double(w[i]) - c.centres[m]) < bd)
          bd = std::abs(double(w[i]) - c.centres[m]), best = m;
      changed |= best != c.assign[i];
      c.assign[i] = uint8_t(best);
    }
    if (!changed) break;
  }
  m_step(c, w, imp, n, kk);
  finish(c, w, imp, n, kk);
  return c;
}

namespace {
// lo rounded first, then the step that makes lo + d (in float) closest to hi.
void round_pair(double lo, double hi, bool round, float& lo_out, float& d_out) {
  if (!round) {
    lo_out = float(lo);
    d_out = float(hi - double(lo_out));
    return;
  }
  lo_out = round_to_fp16(float(lo));
  d_out = round_to_fp16(float(hi - double(lo_out)));
}
}  // namespace

GroupParams groups_from_centres(const std::array<double, 4>& c, bool round_fp16) {
  GroupParams g;
  round_pair(c[0], c[1], round_fp16, g.lo0, g.d0);
  round_pair(c[2], c[3], round_fp16, g.lo1, g.d1);
  return g;
}

GroupParams groups_from_two_centres(double c0, double c1, bool round_fp16) {
  GroupParams g;
  round_pair(c0, c1, round_fp16, g.lo0, g.d0);
  g.lo1 = g.lo0;
  g.d1 = g.d0;
  return g;
}

void assign_nearest_group(const float* w, int n, const GroupParams& g, bool use_bitmap,
                          uint8_t* sign, uint8_t* bitmap) {
  const float v[4] = {g.value(0, 0), g.value(0, 1), g.value(1, 0), g.value(1, 1)};
  const int nv = use_bitmap ? 4 : 2;
  for (int i = 0; i < n; ++i) {
    int best = 0;
    float bd = std::abs(w[i] - v[0]);
    for (int m = 1; m < nv; ++m) {
      const float d = std::abs(w[i] - v[m]);
      if (d < bd) bd = d, best = m;
    }
    sign[i] = uint8_t(best & 1);
    bitmap[i] = uint8_t(best >> 1);
  }
}

}  // namespace binq
