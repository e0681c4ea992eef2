// Per-item picks and aggregate statistics in lm-evaluation-harness conventions.
#pragma once
#include <cstdint>
#include <vector>

namespace binq::eval {

// Index of the largest log-likelihood (first one on ties, like numpy.argmax).
int pick_acc(const std::vector<double>& loglik);
// Index of the largest loglik / length (acc_norm); lengths from choice_length().
int pick_acc_norm(const std::vector<double>& loglik, const std::vector<double>& lengths);

struct MeanStderr {
  double mean = 0;
  double stderr_ = 0;  // sample standard deviation (n-1) / sqrt(n), 0 when n < 2
};
// Harness' mean_stderr over per-item 0/1 correctness: sqrt(p(1-p)/(n-1)).
MeanStderr mean_stderr(const std::vector<uint8_t>& correct);

}  // namespace binq::eval
