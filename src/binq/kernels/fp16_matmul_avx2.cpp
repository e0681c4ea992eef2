// AVX2 + F16C + FMA: 8 FP16 weights widened per step, 4 accumulators per row for latency.
#include <immintrin.h>

#include "binq/kernels/fp16_matmul.h"

namespace binq::detail {

void fp16_to_f32_avx2(const uint16_t* src, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(src + i))));
  for (; i < n; ++i) dst[i] = _cvtsh_ss(src[i]);
}

// Decode reads the head once per token from DRAM; as in the bitwise GEMV, the hardware prefetcher
// alone left the core waiting between rows. Fetching the row 2 ahead: TinyLlama's 32000x2048 head
// 3.95 -> 3.4-3.6 ms on 1 thread, 3.0 -> 2.6 ms on 2 (kernels_bench Fp16Head; 1 and 4 ahead alike).
// Into L2 (T1) as in the bitwise kernels: on Zen 4 with the decode linears, 1-2% faster than T0.
constexpr int kPrefetchRows = 2;

void fp16_matmul_rows_avx2(const uint16_t* w, int cols, const float* x, int n, int rows, int r0, int r1,
                           float* y) {
  for (int j = r0; j < r1; ++j) {
    const uint16_t* wr = w + int64_t(j) * cols;
    // The row kPrefetchRows ahead (possibly the next call's), one 64-byte line per 32 weights of
    // this one, during the first token only.
    const char* pf = j + kPrefetchRows < rows ? reinterpret_cast<const char*>(wr + int64_t(kPrefetchRows) * cols) : nullptr;
    for (int t = 0; t < n; ++t, pf = nullptr) {
      const float* xt = x + int64_t(t) * cols;
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      int i = 0;
      for (; i + 32 <= cols; i += 32) {
        if (pf) _mm_prefetch(pf + 2 * i, _MM_HINT_T1);
        a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(wr + i))), _mm256_loadu_ps(xt + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(wr + i + 8))), _mm256_loadu_ps(xt + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(wr + i + 16))), _mm256_loadu_ps(xt + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(wr + i + 24))), _mm256_loadu_ps(xt + i + 24), a3);
      }
      for (; i + 8 <= cols; i += 8)
        a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(wr + i))), _mm256_loadu_ps(xt + i), a0);
      __m256 s8 = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
      __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
      s4 = _mm_hadd_ps(s4, s4);
      s4 = _mm_hadd_ps(s4, s4);
      float s = _mm_cvtss_f32(s4);
      for (; i < cols; ++i) s += _cvtsh_ss(wr[i]) * xt[i];
      y[int64_t(t) * rows + j] = s;
    }
  }
}

}  // namespace binq::detail
