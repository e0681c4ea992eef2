#include "dnnl_int8.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

namespace binq {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

dnnl::engine& cpu_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

const char* isa_str(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}

}  // namespace

struct DnnlInt8::Impl {
  int n = 0, out = 0, in = 0, ld = 0;
  dnnl::stream stream{cpu_engine()};
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
  dnnl::memory src, dst;
  std::vector<dnnl::memory> weights;
};

DnnlInt8::DnnlInt8(const Int8Linear& w, int n, int copies) : p_(std::make_unique<Impl>()) {
  Impl& p = *p_;
  p.n = n;
  p.out = w.out_features;
  p.in = w.in_features;
  p.ld = w.ld;
  dnnl::engine& eng = cpu_engine();
  // Activations as quantize_int8_acts leaves them: s8 rows of ld (zero padded past in).
  const dnnl::memory::desc src_md({n, p.in}, dt::s8, {p.ld, 1});
  const dnnl::memory::desc w_any({p.in, p.out}, dt::s8, tag::any);
  const dnnl::memory::desc dst_md({n, p.out}, dt::s32, tag::ab);
  p.pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(src_md, w_any, dst_md), eng);
  p.prim = dnnl::matmul(p.pd);
  p.src = dnnl::memory(src_md, eng, DNNL_MEMORY_NONE);
  p.dst = dnnl::memory(dst_md, eng, DNNL_MEMORY_NONE);
  // Int8Linear stores W [out x ld] row-major, which is the [in x out] matrix with strides {1, ld}.
  const dnnl::memory::desc user_md({p.in, p.out}, dt::s8, {1, p.ld});
  dnnl::memory user(user_md, eng, const_cast<int8_t*>(w.w.data()));
  for (int c = 0; c < std::max(copies, 1); ++c) {
    dnnl::memory m(p.pd.weights_desc(), eng);
    dnnl::reorder(user, m).execute(p.stream, user, m);
    p.weights.push_back(m);
  }
  p.stream.wait();
}

DnnlInt8::~DnnlInt8() = default;

void DnnlInt8::run(const Int8Acts& x, int32_t* y, size_t i) {
  Impl& p = *p_;
  if (x.n_tokens != p.n || x.ld != p.ld) {
    std::fprintf(stderr, "DnnlInt8::run: activations %dx%d, primitive built for %dx%d\n", x.n_tokens, x.ld, p.n, p.ld);
    std::abort();
  }
  p.src.set_data_handle(const_cast<int8_t*>(x.q.data()));
  p.dst.set_data_handle(y);
  p.prim.execute(p.stream, {{DNNL_ARG_SRC, p.src},
                            {DNNL_ARG_WEIGHTS, p.weights[i % p.weights.size()]},
                            {DNNL_ARG_DST, p.dst}});
  p.stream.wait();
}

int64_t DnnlInt8::weight_bytes() const { return int64_t(p_->pd.weights_desc().get_size()); }

std::string DnnlInt8::impl() const { return p_->pd.impl_info_str(); }

void dnnl_int8_selfcheck() {
  static bool done = false;
  if (done) return;
  done = true;
  struct Case {
    int n, out, in;
  };
  // Odd sizes (in not a multiple of 64: strided, zero-padded activations) and a LLaMA-like one.
  const Case cases[] = {{1, 37, 200}, {5, 37, 200}, {3, 130, 1000}, {1, 512, 4096}, {8, 512, 4096}, {33, 96, 4096}};
  std::string impl;
  for (const Case& c : cases) {
    std::mt19937 rng(uint32_t(c.n * 7919 + c.out * 31 + c.in));
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> w(size_t(c.out) * c.in), x(size_t(c.n) * c.in);
    for (auto& f : w) f = nd(rng);
    for (auto& f : x) f = nd(rng);
    x[0] = 50.0f;  // one outlier per token row 0 spreads values over the whole s8 range
    const Int8Linear wl = quantize_int8_linear(w.data(), c.out, c.in);
    Int8Acts xa;
    quantize_int8_acts(x.data(), c.n, c.in, xa);
    std::vector<int32_t> ref, got(size_t(c.n) * c.out, -1);
    int8_int_dots(wl, xa, ref);
    DnnlInt8 d(wl, c.n, 1);
    d.run(xa, got.data(), 0);
    const std::string one = d.impl() + " (in " + std::to_string(c.in) + ")";
    if (impl.find(d.impl()) == std::string::npos) impl += (impl.empty() ? "" : ", ") + one;
    for (size_t k = 0; k < got.size(); ++k)
      if (got[k] != ref[k]) {
        std::fprintf(stderr,
                     "oneDNN INT8 matmul disagrees with int8_int_dots (n=%d out=%d in=%d, impl %s): token %zu row %zu: "
                     "oneDNN %d, reference %d. Aborting the benchmark.\n",
                     c.n, c.out, c.in, d.impl().c_str(), k / c.out, k % c.out, got[k], ref[k]);
        std::abort();
      }
  }
  const dnnl_version_t* v = dnnl_version();
  std::fprintf(stderr, "oneDNN %d.%d.%d (%s runtime): effective ISA %s, s8s8s32 matmul impls %s; all match int8_int_dots\n",
               v->major, v->minor, v->patch, v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "non-OpenMP",
               isa_str(dnnl::get_effective_cpu_isa()), impl.c_str());
}

}  // namespace binq
