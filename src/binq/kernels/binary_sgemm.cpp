// The sgemm route for batches (prefill) on ISAs without a vector popcount: see packed_linear.h.
#include <cblas.h>

#include <cstdlib>
#include <cstring>

#include "binq/core/error.h"
#include "binq/core/parallel.h"
#include "binq/kernels/packed_linear.h"

namespace binq {

bool use_sgemm_route(const KernelTable& table, int n_tokens) {
  static const bool sgemm = [] {
    const char* env = std::getenv("BINQ_PREFILL");
    if (env == nullptr || *env == '\0' || std::strcmp(env, "bitwise") == 0) return false;
    if (std::strcmp(env, "sgemm") == 0) return true;
    fail("environment variable BINQ_PREFILL='{}': expected bitwise or sgemm", env);
  }();
  return sgemm && table.sgemm_from_tokens > 0 && table.dequant_rows && n_tokens >= table.sgemm_from_tokens;
}

std::vector<float> dequantize_acts(const QuantizedActs& x) {
  const int n = x.n_tokens, width = x.width, bw = width - x.K, B = x.block_size, cpb = x.chunks_per_block;
  std::vector<float> xh(size_t(n) * width);
#pragma omp parallel for schedule(static) if (int64_t(n) * width > (1 << 16))
  for (int t = 0; t < n; ++t) {
    // The 16 values a binary channel can take: its 4 plane bits select the m_a.
    float value[16];
    const float* m = x.m.data() + size_t(t) * 4;
    for (int v = 0; v < 16; ++v)
      value[v] = float(double(x.mc[t]) + ((v & 1) ? double(m[0]) : 0.0) + ((v & 2) ? double(m[1]) : 0.0) +
                       ((v & 4) ? double(m[2]) : 0.0) + ((v & 8) ? double(m[3]) : 0.0));
    float* dst = xh.data() + size_t(t) * width;
    const uint64_t* planes = x.planes.data() + size_t(t) * x.n_chunks * 8;
    for (int l = 0; l < x.n_blocks; ++l) {
      const int len_l = std::min(B, bw - l * B);
      for (int o = 0; o < len_l; o += 64) {  // one word of each plane: channel o + k is bit k
        const uint64_t* p = planes + plane_word_index(l * cpb + o / 128, 0, (o % 128) / 64);
        float* d = dst + l * B + o;
        for (int k = 0, len = std::min(64, len_l - o); k < len; ++k)
          d[k] = value[((p[0] >> k) & 1) | (((p[2] >> k) & 1) << 1) | (((p[4] >> k) & 1) << 2) | (((p[6] >> k) & 1) << 3)];
      }
    }
    for (int k = 0; k < x.K; ++k) dst[bw + k] = x.outlier_scale[t] * float(x.outlier_q[size_t(t) * x.k_pad + k]);
  }
  return xh;
}

void binary_sgemm(const PackedBinaryLinear& w, const float* xhat, int n_tokens, float* y, const KernelTable& table) {
  if (!table.dequant_rows) fail("binary_sgemm: the {} kernels have no dequantizer", table.name);
  // 256 rows a slab: sgemm repacks xhat once per call, so a slab must be wide enough for that to
  // be small against its multiply (n x in x 256); the slab (4 MB for in = 4096) stays in L3.
  constexpr int64_t kSlabRows = 256;
  const BinaryLayerView v = w.view();
  const int in = w.in_features, out = w.out_features;
  for_stolen_ranges(out, kSlabRows, int64_t(n_tokens) * out * in > (int64_t(1) << 22), [&](int64_t r0, int64_t r1) {
    thread_local std::vector<float> slab;
    slab.resize(size_t(r1 - r0) * in);
    table.dequant_rows(v, int(r0), int(r1), slab.data());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tokens, int(r1 - r0), in, 1.0f, xhat, in, slab.data(), in,
                0.0f, y + r0, out);
  });
}

}  // namespace binq
