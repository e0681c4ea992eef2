// Packed INT4 KV cache: quantizer properties, pack/unpack, and the attention kernels of every ISA
// against dequantize-then-float (double) attention.
#include <gtest/gtest.h>

#include <cmath>

#include "binq/core/error.h"
#include "binq/core/half.h"
#include "binq/kernels/dispatch.h"
#include "binq/kernels/kv_int4.h"
#include "common/isa_test.h"
#include "kernels/kernel_test_util.h"

namespace binq {
namespace {

TEST(KvInt4, PackUnpackProperties) {
  for (int hd : {1, 6, 37, 64, 100, 128}) {
    SCOPED_TRACE(hd);
    const int groups = 9;
    std::vector<float> x = test::random_acts(groups, hd, 5 + hd);
    for (int i = 0; i < hd; ++i) x[3 * hd + i] = 0.75f;              // constant group
    for (int i = 0; i < hd; ++i) x[4 * hd + i] = 0.0f;               // all zero
    for (int i = 0; i < hd; ++i) x[5 * hd + i] = 7.0f + 0.01f * i;   // offset group (z < 0)
    std::vector<uint8_t> nib(groups * kv_int4_group_bytes(hd));
    std::vector<KvInt4Params> prm(groups);
    kv_int4_pack(x.data(), groups, hd, nib.data(), prm.data());
    std::vector<float> deq(x.size()), fq(x.size());
    kv_int4_unpack(nib.data(), prm.data(), groups, hd, deq.data());
    kv_int4_fake_quantize(x.data(), groups, hd, fq.data());
    EXPECT_EQ(deq, fq);
    for (int g = 0; g < groups; ++g) {
      const float mu = fp16_to_float(prm[g].scale);
      float lo = x[g * hd], hi = lo;
      for (int i = 0; i < hd; ++i) lo = std::min(lo, x[g * hd + i]), hi = std::max(hi, x[g * hd + i]);
      for (int i = 0; i < hd; ++i) {
        const float e = std::fabs(deq[g * hd + i] - x[g * hd + i]);
        if (hi > lo && hd > 1) {
          ASSERT_LE(e, 0.5f * mu * (1 + 1e-3f) + 1e-6f * std::fabs(x[g * hd + i])) << g << " " << i;
        } else {
          ASSERT_EQ(deq[g * hd + i], round_to_fp16(lo));
        }
      }
      if (hd % 2 == 1) {
        EXPECT_EQ(nib[g * kv_int4_group_bytes(hd) + hd / 2] >> 4, 0);
      }
    }
    EXPECT_EQ(deq[4 * hd], 0.0f);
  }
}

TEST(KvInt4, CacheStoresPerTokenPerHead) {
  const int layers = 2, cap = 5, heads = 3, hd = 8, dim = heads * hd;
  KvInt4Cache cache(layers, cap, heads, hd);
  const std::vector<float> k = test::random_acts(2, dim, 1), v = test::random_acts(2, dim, 2);
  cache.store(1, 3, 2, k.data(), v.data());
  std::vector<float> ref(2 * dim), out(dim);
  kv_int4_fake_quantize(k.data(), 2 * heads, hd, ref.data());
  cache.key(1, 4, out.data());
  for (int i = 0; i < dim; ++i) EXPECT_EQ(out[i], ref[dim + i]);
  kv_int4_fake_quantize(v.data(), 2 * heads, hd, ref.data());
  cache.value(1, 3, out.data());
  for (int i = 0; i < dim; ++i) EXPECT_EQ(out[i], ref[i]);
  EXPECT_EQ(cache.bytes(), 2 * (layers * cap * heads) * (4 + 4));
  EXPECT_THROW(cache.key(2, 0, out.data()), Error);
  EXPECT_THROW(cache.store(0, 4, 2, k.data(), v.data()), Error);
  std::vector<float> s(8);
  EXPECT_THROW(cache.scores(0, 3, k.data(), 1, 1.0f, s.data()), Error);
  EXPECT_THROW(cache.scores(0, 0, k.data(), cap + 1, 1.0f, s.data()), Error);
}

// Every ISA: scores, weighted values and full attention vs double attention over the
// dequantized cache. Tolerance: 1e-5 x the sum of |terms| (float reassociation only).
using KvInt4Attention = test::IsaTest;
BINQ_INSTANTIATE_PER_ISA(KvInt4Attention);

TEST_P(KvInt4Attention, KernelsMatchDequantizedFloat) {
  const KernelTable& kt = kernel_table(GetParam());
  for (int hd : {2, 7, 16, 34, 64, 80, 128, 130}) {
    const int heads = 3, cap = 41, dim = heads * hd;
    KvInt4Cache cache(2, cap, heads, hd);
    const std::vector<float> k = test::random_acts(cap, dim, 10 + hd), v = test::random_acts(cap, dim, 20 + hd);
    cache.store(1, 0, cap, k.data(), v.data());
    std::vector<float> kd(size_t(cap) * dim), vd(size_t(cap) * dim);
    for (int t = 0; t < cap; ++t) {
      cache.key(1, t, kd.data() + size_t(t) * dim);
      cache.value(1, t, vd.data() + size_t(t) * dim);
    }
    const std::vector<float> q = test::random_acts(1, hd, 30 + hd);
    for (int n : {1, 2, 17, cap}) {
      for (int h : {0, heads - 1}) {
        SCOPED_TRACE(fmt::format("hd={} n={} head={}", hd, n, h));
        const float scale = 1.0f / std::sqrt(float(hd));
        std::vector<double> sref(n), smag(n);
        for (int t = 0; t < n; ++t) {
          for (int d = 0; d < hd; ++d) {
            const double a = double(q[d]) * kd[size_t(t) * dim + h * hd + d];
            sref[t] += a;
            smag[t] += std::fabs(a);
          }
        }
        // Probabilities: a fixed vector (for weighted_values) and the softmax (for attend).
        std::vector<float> p(n);
        double mx = -1e300, sum = 0;
        for (int t = 0; t < n; ++t) mx = std::max(mx, scale * sref[t]);
        std::vector<double> pr(n);
        for (int t = 0; t < n; ++t) sum += pr[t] = std::exp(scale * sref[t] - mx);
        for (int t = 0; t < n; ++t) {
          pr[t] /= sum;
          p[t] = float(0.5 + std::sin(t + 0.3 * hd));
        }
        std::vector<double> wref(hd), wmag(hd), aref(hd), amag(hd);
        for (int t = 0; t < n; ++t)
          for (int d = 0; d < hd; ++d) {
            const double vv = vd[size_t(t) * dim + h * hd + d];
            wref[d] += p[t] * vv;
            wmag[d] += std::fabs(p[t] * vv);
            aref[d] += pr[t] * vv;
            amag[d] += std::fabs(pr[t] * vv);
          }
        std::vector<float> s(n), o(hd);
        cache.scores(1, h, q.data(), n, scale, s.data(), &kt);
        for (int t = 0; t < n; ++t) ASSERT_NEAR(s[t], scale * sref[t], 1e-5 * scale * smag[t] + 1e-30) << t;
        cache.weighted_values(1, h, p.data(), n, o.data(), &kt);
        for (int d = 0; d < hd; ++d) ASSERT_NEAR(o[d], wref[d], 1e-5 * wmag[d] + 1e-30) << d;
        cache.attend(1, h, q.data(), n, scale, s.data(), o.data(), &kt);
        // Softmax adds exp/normalisation rounding: relative 1e-4 of the magnitude.
        for (int d = 0; d < hd; ++d) ASSERT_NEAR(o[d], aref[d], 1e-4 * amag[d] + 1e-30) << d;
      }
    }
  }
}

}  // namespace
}  // namespace binq
