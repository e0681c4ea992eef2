// INT4 KV attention kernels, scalar reference (see kernels/kv_int4.h, KvScoresFn / KvWeightedSumFn).
// Element d of a group is nibble d%2 of byte d/2; x_hat = mu (q - z) with the integer q - z formed
// first, so no cancellation between mu q and mu z.
#include "binq/core/half.h"
#include "binq/kernels/kernel_table.h"

namespace binq::detail {

void kv_scores_scalar(const float* qe, const float* qo, int head_dim, const uint8_t* nib,
                      const KvInt4Params* prm, int64_t stride, int n, float alpha, float* scores) {
  const int gb = (head_dim + 1) / 2;
  for (int t = 0; t < n; ++t) {
    const uint8_t* g = nib + int64_t(t) * stride * gb;
    const KvInt4Params p = prm[int64_t(t) * stride];
    float s = 0;
    for (int i = 0; i < gb; ++i) {
      s += qe[i] * float(int(g[i] & 15) - p.zero);
      s += qo[i] * float(int(g[i] >> 4) - p.zero);  // odd head_dim: qo is zero past the end
    }
    scores[t] = alpha * fp16_to_float(p.scale) * s;
  }
}

void kv_wsum_scalar(const float* pw, int n, const uint8_t* nib, const KvInt4Params* prm,
                    int64_t stride, int head_dim, float* oe, float* oo) {
  const int gb = (head_dim + 1) / 2;
  for (int i = 0; i < gb; ++i) oe[i] = oo[i] = 0.0f;
  for (int t = 0; t < n; ++t) {
    const uint8_t* g = nib + int64_t(t) * stride * gb;
    const KvInt4Params p = prm[int64_t(t) * stride];
    const float w = pw[t] * fp16_to_float(p.scale);
    for (int i = 0; i < gb; ++i) {
      oe[i] += w * float(int(g[i] & 15) - p.zero);
      oo[i] += w * float(int(g[i] >> 4) - p.zero);
    }
  }
}

}  // namespace binq::detail
