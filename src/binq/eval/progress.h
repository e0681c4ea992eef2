// Progress reporting on stderr: a redrawn line with ETA when stderr is a terminal, otherwise an
// occasional plain line (every 10% or 60 s) so logs of long runs stay short.
#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace binq::eval {

class Progress {
 public:
  // enabled = false makes every call a no-op (tests, --quiet).
  Progress(std::string label, int64_t total, bool enabled);
  ~Progress();
  // Thread-safe; `done` items finished since the last call.
  void add(int64_t done = 1);
  // Prints the final line (idempotent).
  void finish();

 private:
  void print_locked(bool final);
  std::string label_;
  int64_t total_, done_ = 0;
  bool enabled_, tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_print_;
  int64_t last_printed_done_ = 0;
  std::mutex mu_;
};

// "1h02m", "3m05s", "12s"
std::string format_duration(double seconds);

}  // namespace binq::eval
