#include "binq/eval/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace binq::eval {

std::string format_duration(double seconds) {
  if (seconds < 0 || seconds != seconds) return "?";
  long s = long(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled && total > 0), tty_(isatty(STDERR_FILENO) != 0) {
  start_ = last_print_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { finish(); }

void Progress::add(int64_t done) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  done_ += done;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_print_).count();
  // A terminal line is cheap to redraw (4 per second); a log gets a line per 10% or minute.
  bool due = tty_ ? since >= 0.25
                  : (done_ - last_printed_done_) * 10 >= total_ || since >= 60.0;
  if (due && done_ < total_) print_locked(false);
}

void Progress::finish() {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  finished_ = true;
  print_locked(true);
}

void Progress::print_locked(bool final) {
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double rate = elapsed > 0 ? done_ / elapsed : 0;
  double eta = rate > 0 ? (total_ - done_) / rate : -1;
  std::string line = final ? fmt::format("{}: {}/{} items in {}", label_, done_, total_, format_duration(elapsed))
                           : fmt::format("{}: {}/{} ({:.1f}%), {:.1f} items/s, ETA {}", label_, done_, total_,
                                         100.0 * done_ / total_, rate, format_duration(eta));
  if (tty_)
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
  else
    std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
  last_print_ = now;
  last_printed_done_ = done_;
}

}  // namespace binq::eval
