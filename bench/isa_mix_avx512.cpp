// Instruction-throughput loops behind isa_mix_bench (compiled with AVX-512 flags, see
// bench/CMakeLists.txt; only called after the CPU was checked). Each loop keeps 12 independent
// zmm dependency chains, enough to cover the latency of every instruction measured here, and an
// empty asm statement per iteration keeps the compiler from hoisting or folding the work.
// GCC 12 reports false "uninitialized" warnings inside its AVX-512 headers (_mm512_undefined_*).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "isa_mix.h"

#include <immintrin.h>

namespace binq::isa_mix {
namespace {

#define BINQ_CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define BINQ_DECL(i) __m512i r##i = _mm512_set1_epi64(0x9E3779B97F4A7C15ll * (i + 1));
#define BINQ_XOR(i) acc = _mm512_xor_si512(acc, r##i);
#define BINQ_KEEP                                                                                  \
  asm volatile("" : "+v"(r0), "+v"(r1), "+v"(r2), "+v"(r3), "+v"(r4), "+v"(r5));                \
  asm volatile("" : "+v"(r6), "+v"(r7), "+v"(r8), "+v"(r9), "+v"(r10), "+v"(r11), "+v"(x), "+v"(y));

uint64_t fold(__m512i acc) { return uint64_t(_mm512_reduce_add_epi64(acc)); }

}  // namespace

// 12 instructions of one kind per iteration.
uint64_t run(Kind kind, int64_t iters) {
  BINQ_CHAINS(BINQ_DECL)
  __m512i x = _mm512_set1_epi64(0x0123456789ABCDEFll), y = _mm512_set1_epi64(0x0F1E2D3C4B5A6978ll);
  switch (kind) {
#define BINQ_LOOP(OP)                     \
  for (int64_t it = 0; it < iters; ++it) { \
    BINQ_KEEP                              \
    BINQ_CHAINS(OP)                        \
  }                                        \
  break;
#define OP_POPCNT(i) r##i = _mm512_popcnt_epi64(r##i);
#define OP_MADD52(i) r##i = _mm512_madd52lo_epu64(r##i, x, y);
#define OP_DPBUSD(i) r##i = _mm512_dpbusd_epi32(r##i, x, y);
#define OP_AND(i) r##i = _mm512_and_si512(r##i, x);
#define OP_FMA(i) r##i = _mm512_castpd_si512(_mm512_fmadd_pd(_mm512_castsi512_pd(r##i), _mm512_castsi512_pd(x), _mm512_castsi512_pd(y)));
#define OP_CVT(i) r##i = _mm512_cvtps_epi64(_mm512_castps512_ps256(_mm512_castsi512_ps(r##i)));
#define OP_MIX(i) r##i = (i) % 2 ? _mm512_popcnt_epi64(r##i) : _mm512_madd52lo_epu64(r##i, x, y);
#define OP_MIX_AND(i) r##i = (i) % 2 ? _mm512_popcnt_epi64(r##i) : _mm512_and_si512(r##i, x);
#define OP_MIX_CVT(i) r##i = (i) % 2 ? _mm512_popcnt_epi64(r##i) : _mm512_cvtps_epi64(_mm512_castps512_ps256(_mm512_castsi512_ps(r##i)));
    case Kind::Popcnt: BINQ_LOOP(OP_POPCNT)
    case Kind::Madd52: BINQ_LOOP(OP_MADD52)
    case Kind::Dpbusd: BINQ_LOOP(OP_DPBUSD)
    case Kind::And: BINQ_LOOP(OP_AND)
    case Kind::Fma: BINQ_LOOP(OP_FMA)
    case Kind::Cvt: BINQ_LOOP(OP_CVT)
    case Kind::PopcntMadd52: BINQ_LOOP(OP_MIX)
    case Kind::PopcntAnd: BINQ_LOOP(OP_MIX_AND)
    case Kind::PopcntCvt: BINQ_LOOP(OP_MIX_CVT)
  }
  __m512i acc = _mm512_setzero_si512();
  BINQ_CHAINS(BINQ_XOR)
  return fold(acc);
}

}  // namespace binq::isa_mix
