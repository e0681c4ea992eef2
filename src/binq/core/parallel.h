// Splitting a loop over the threads of an OpenMP region: one contiguous range per thread, and a
// thread that finishes its own range early takes pieces from the back of the others'.
// Why not schedule(static): at batch-1 decode every split is a few hundred microseconds of
// streaming, and the two vCPUs of a shared machine rarely run at the same speed, so with equal
// halves one thread waited for the other ~10 us per region (8% of a TinyLlama-shaped decode).
// Why not schedule(dynamic): the owner keeps walking its range front to back, so the kernels'
// prefetch of the next rows stays useful; only the last pieces move.
#pragma once
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>

namespace binq {

namespace detail {
// [front, back) of a thread's remaining pieces, packed in one word so that the owner (taking
// from the front) and a thief (taking from the back) agree through one compare-and-swap.
struct alignas(64) PieceRange {
  std::atomic<uint64_t> front_back{0};
  // Takes the first remaining piece (the owner) or the last (a thief); false when none is left.
  bool take(bool from_back, int64_t& piece) {
    uint64_t v = front_back.load(std::memory_order_relaxed);
    for (;;) {
      const uint64_t front = v >> 32, back = v & 0xFFFFFFFFu;
      if (front >= back) return false;
      const uint64_t next = from_back ? (front << 32) | (back - 1) : ((front + 1) << 32) | back;
      if (front_back.compare_exchange_weak(v, next, std::memory_order_relaxed)) {
        piece = int64_t(from_back ? back - 1 : front);
        return true;
      }
    }
  }
};
}  // namespace detail

// Calls f(begin, end) on disjoint ranges covering [0, n), each [k*grain, min(n, (k+1)*grain)),
// every piece exactly once, on all threads of a new parallel region when `parallel` (else on the
// caller). Works with any team size: the pieces of a range whose thread never shows up are
// taken by the others. n / grain must be below 2^32.
template <typename F>
void for_stolen_ranges(int64_t n, int64_t grain, bool parallel, F&& f) {
  if (n <= 0) return;
  const int64_t pieces = (n + grain - 1) / grain;
  const int nt = parallel ? int(std::min<int64_t>(omp_get_max_threads(), pieces)) : 1;
  if (nt <= 1) {
    f(int64_t(0), n);
    return;
  }
  std::unique_ptr<detail::PieceRange[]> ranges(new detail::PieceRange[nt]);
  const int64_t per = (pieces + nt - 1) / nt;
  for (int i = 0; i < nt; ++i)
    ranges[i].front_back.store((uint64_t(std::min(pieces, i * per)) << 32) | uint64_t(std::min(pieces, (i + 1) * per)),
                               std::memory_order_relaxed);
  auto run = [&](int64_t piece) { f(piece * grain, std::min(n, (piece + 1) * grain)); };
#pragma omp parallel num_threads(nt)
  {
    const int id = omp_get_thread_num();
    int64_t piece;
    while (ranges[id].take(false, piece)) run(piece);
    for (int k = 1; k < nt; ++k) {
      detail::PieceRange& victim = ranges[(id + k) % nt];
      while (victim.take(true, piece)) run(piece);
    }
  }
}

}  // namespace binq
