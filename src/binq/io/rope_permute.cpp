#include "binq/io/rope_permute.h"

#include <algorithm>
#include <cstddef>

namespace binq {

namespace {

// Copies row `from` of src to row `to` of dst for every (head, pair index i, member j).
template <bool kToHalfSplit>
void permute(const float* src, float* dst, int n_heads, int head_dim, int cols) {
  const int half = head_dim / 2;
  for (int h = 0; h < n_heads; ++h)
    for (int i = 0; i < half; ++i)
      for (int j = 0; j < 2; ++j) {
        const size_t interleaved = size_t(h) * head_dim + 2 * i + j;
        const size_t halfsplit = size_t(h) * head_dim + size_t(j) * half + i;
        const size_t from = kToHalfSplit ? interleaved : halfsplit;
        const size_t to = kToHalfSplit ? halfsplit : interleaved;
        std::copy_n(src + from * cols, cols, dst + to * cols);
      }
}

}  // namespace

void permute_interleaved_to_halfsplit(const float* src, float* dst, int n_heads, int head_dim, int cols) {
  permute<true>(src, dst, n_heads, head_dim, cols);
}

void permute_halfsplit_to_interleaved(const float* src, float* dst, int n_heads, int head_dim, int cols) {
  permute<false>(src, dst, n_heads, head_dim, cols);
}

}  // namespace binq
