#include "binq/eval/metrics.h"

#include <cmath>

#include "binq/core/error.h"

namespace binq::eval {

int pick_acc(const std::vector<double>& loglik) {
  if (loglik.empty()) fail("pick_acc: an item needs at least one choice");
  int best = 0;
  for (int i = 1; i < int(loglik.size()); ++i)
    if (loglik[i] > loglik[best]) best = i;
  return best;
}

int pick_acc_norm(const std::vector<double>& loglik, const std::vector<double>& lengths) {
  if (loglik.size() != lengths.size() || loglik.empty())
    fail("pick_acc_norm: {} log-likelihoods but {} lengths (expected equal, non-zero)", loglik.size(),
         lengths.size());
  std::vector<double> norm(loglik.size());
  // An empty choice text would divide by zero; the harness would produce -inf/nan there, we
  // count it as length 1 so the pick stays defined.
  for (size_t i = 0; i < loglik.size(); ++i) norm[i] = loglik[i] / (lengths[i] > 0 ? lengths[i] : 1.0);
  return pick_acc(norm);
}

MeanStderr mean_stderr(const std::vector<uint8_t>& correct) {
  MeanStderr r;
  const double n = double(correct.size());
  if (correct.empty()) return r;
  double sum = 0;
  for (uint8_t c : correct) sum += c;
  r.mean = sum / n;
  if (correct.size() < 2) return r;
  double ss = 0;
  for (uint8_t c : correct) ss += (c - r.mean) * (c - r.mean);
  r.stderr_ = std::sqrt(ss / (n - 1)) / std::sqrt(n);
  return r;
}

}  // namespace binq::eval
