#include "binq/core/parallel.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <vector>

namespace binq {
namespace {

// Every index of [0, n) is handed out exactly once, in ranges of whole pieces.
void expect_exact_cover(int64_t n, int64_t grain, bool parallel) {
  std::vector<std::atomic<int>> seen(size_t(n > 0 ? n : 0));
  std::atomic<int> bad_ranges{0};
  for_stolen_ranges(n, grain, parallel, [&](int64_t b, int64_t e) {
    if (b < 0 || e > n || b >= e || (parallel && (b % grain != 0 || (e != n && e - b != grain)))) ++bad_ranges;
    for (int64_t i = b; i < e; ++i) seen[size_t(i)].fetch_add(1);
  });
  EXPECT_EQ(bad_ranges.load(), 0) << "n " << n << " grain " << grain;
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(seen[size_t(i)].load(), 1) << "index " << i << " of " << n;
}

TEST(ForStolenRanges, CoversEveryIndexOnceForAnyThreadCount) {
  const int saved = omp_get_max_threads();
  for (int threads : {1, 2, 3, 5}) {
    omp_set_num_threads(threads);
    for (int64_t n : {0, 1, 7, 8, 9, 64, 1000, 4099})
      for (int64_t grain : {1, 8, 64, 5000}) expect_exact_cover(n, grain, true);
    expect_exact_cover(1000, 8, false);
  }
  omp_set_num_threads(saved);
}

TEST(ForStolenRanges, AThreadThatFinishesEarlyTakesPiecesOfAnother) {
  // Thread 0 holds its first piece until some other thread has processed a piece of thread 0's
  // range, which only stealing can do: deterministic, whatever the machine's speed.
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  std::atomic<int> stolen{0};
  std::vector<int> count(64, 0);
  for_stolen_ranges(64, 1, true, [&](int64_t b, int64_t e) {
    const int me = omp_get_thread_num();
    if (b == 0 && me == 0)
      for (double t0 = omp_get_wtime(); stolen.load() == 0 && omp_get_wtime() - t0 < 30;) {
      }
    if (b < 32 && me != 0) stolen.fetch_add(1);
    for (int64_t i = b; i < e; ++i) ++count[size_t(i)];
  });
  EXPECT_GT(stolen.load(), 0);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(count[size_t(i)], 1) << i;
  omp_set_num_threads(saved);
}

TEST(ForStolenRanges, NestedRegionWithOneThreadStillCoversAll) {
  // Inside a parallel region the inner team has one thread: it owns range 0 and must take
  // every other range from the back.
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
#pragma omp parallel num_threads(2)
  {
#pragma omp critical
    expect_exact_cover(777, 8, true);
  }
  omp_set_num_threads(saved);
}

}  // namespace
}  // namespace binq
