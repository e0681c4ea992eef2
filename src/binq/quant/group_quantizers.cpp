#include "binq/quant/group_quantizers.h"

#include <chrono>
#include <numeric>

#include "binq/core/error.h"
#include "binq/core/half.h"
#include "binq/quant/baselines.h"
#include "binq/quant/fake_quant_linear.h"
#include "binq/quant/hessian.h"

namespace binq {

BinaryQuantConfig bwa_config(const QuantizeOptions& o, const WidthSizes& s) {
  BinaryQuantConfig c;
  if (o.ladder_rung >= 0) {
    // Rung 5 is rung 4 (the full weight side) plus activation balancing, which is not a
    // weight switch: the activation recipe carries it.
    c = ladder_config(std::min(o.ladder_rung, kLadderRungs - 1), s.block, s.outliers);
  } else {
    c.block_size = s.block;
    c.n_outliers = s.outliers;
    c.bitmap = o.bitmap;
    c.hessian_weighted = o.hessian_weighted;
    c.min_distance = o.min_distance;
  }
  // Not ladder switches: they apply to every rung (the ladder's own default is EM + block).
  c.cluster = o.cluster;
  c.compensation = o.compensation;
  c.em_iters = o.em_iters;
  c.percdamp = o.percdamp;
  return c;
}

MethodGroupQuantizer::MethodGroupQuantizer(const QuantizeOptions& o, const ActivationRecipe& act,
                                           std::vector<QuantizedLinear>& linears)
    : o_(o), act_(act), linears_(linears) {}

WidthSizes MethodGroupQuantizer::sizes_for(int width) const {
  WidthSizes s;
  s.block = o_.group > 0 ? o_.group : default_group_size(width);
  // Outliers are a bwa / gptq feature; rtn and billm have none (and fp has nothing at all).
  const bool has_outliers = o_.method == QuantMethod::Bwa || o_.method == QuantMethod::Gptq;
  const bool ladder_without = o_.method == QuantMethod::Bwa && o_.ladder_rung == 0;
  if (has_outliers && !ladder_without) s.outliers = o_.outliers >= 0 ? o_.outliers : default_outliers(width);
  if (s.outliers > width)
    fail("--outliers {}: more outlier channels than the {} inputs of some layers of this model", s.outliers, width);
  return s;
}

nlohmann::json MethodGroupQuantizer::sizes_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [w, s] : seen_) j[std::to_string(w)] = {{"B", s.block}, {"K", s.outliers}};
  return j;
}

namespace {

std::vector<uint16_t> copy_to_fp16(const float* w, size_t n) {
  std::vector<uint16_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = float_to_fp16(w[i]);
  return v;
}

// [out x in] original column order -> permuted column order (QuantizedLinear::dense layout),
// in FP16 as the file stores it, so in-process and from-file evaluation agree.
std::vector<uint16_t> to_permuted_fp16(const std::vector<float>& w, int out, int in, const std::vector<int32_t>& perm) {
  std::vector<uint16_t> p(w.size());
  for (int j = 0; j < out; ++j)
    for (int c = 0; c < in; ++c) p[size_t(j) * in + c] = float_to_fp16(w[size_t(j) * in + perm[c]]);
  return p;
}

std::vector<float> to_permuted(const std::vector<float>& w, int out, int in, const std::vector<int32_t>& perm) {
  std::vector<float> p(w.size());
  for (int j = 0; j < out; ++j)
    for (int c = 0; c < in; ++c) p[size_t(j) * in + c] = w[size_t(j) * in + perm[c]];
  return p;
}

std::vector<int32_t> identity(int n) {
  std::vector<int32_t> p(n);
  std::iota(p.begin(), p.end(), 0);
  return p;
}

}  // namespace

QuantizedLinear MethodGroupQuantizer::quantize_one(const MatrixView& W, const std::string& name,
                                                   const std::vector<int32_t>& perm, const PreparedHessian* ph,
                                                   int width, BinaryLinearParams& binary) {
  const int out = W.rows, in = W.cols;
  const WidthSizes s = sizes_for(width);
  QuantizedLinear q;
  q.out_features = out;
  q.in_features = in;
  switch (o_.method) {
    case QuantMethod::Bwa: {
      q.kind = QuantizedLinear::Kind::Binary;
      binary = quantize_binary_linear(W.data, out, in, *ph, perm, bwa_config(o_, s), name.c_str());
      q.binary = CompactBinaryLinear(binary);
      return q;
    }
    case QuantMethod::Rtn: {
      q.kind = QuantizedLinear::Kind::Dense;
      q.perm = identity(in);
      q.dense = to_permuted_fp16(rtn_quantize(W.data, out, in, o_.wbits), out, in, q.perm);
      // b bits per weight + an FP16 scale and a b-bit zero point per row (GPTQ's accounting).
      q.nominal_bits = o_.wbits + (16.0 + o_.wbits) / in;
      return q;
    }
    case QuantMethod::Gptq: {
      UniformGptqConfig cfg;
      cfg.bits = o_.wbits;
      cfg.n_outliers = s.outliers;
      cfg.percdamp = o_.percdamp;
      DequantizedLayer d = gptq_uniform_quantize(W.data, out, in, *ph, perm, cfg, name.c_str());
      q.kind = QuantizedLinear::Kind::Dense;
      q.perm = perm;
      q.n_outliers = s.outliers;
      q.dense = to_permuted_fp16(d.weight, out, in, perm);
      // + the int32 permutation, counted per layer exactly as bits_per_weight() does for bwa.
      q.nominal_bits = d.bits_per_weight + 32.0 / out;
      return q;
    }
    case QuantMethod::Billm: {
      BillmConfig cfg;
      cfg.block_size = s.block;
      cfg.percdamp = o_.percdamp;
      DequantizedLayer d = billm_quantize(W.data, out, in, *ph, cfg, name.c_str());
      q.kind = QuantizedLinear::Kind::Dense;
      q.perm = identity(in);
      q.dense = to_permuted_fp16(d.weight, out, in, q.perm);
      q.nominal_bits = d.bits_per_weight;
      return q;
    }
    case QuantMethod::Fp: {
      q.kind = QuantizedLinear::Kind::Dense;
      q.perm = identity(in);
      q.dense = copy_to_fp16(W.data, size_t(out) * in);
      q.nominal_bits = 16;
      return q;
    }
  }
  fail("{}: unknown method", name);
}

std::vector<std::shared_ptr<const Linear>> MethodGroupQuantizer::quantize_group(int layer,
                                                                                const std::vector<LinearKind>& kinds,
                                                                                const BlockLinears& weights,
                                                                                std::vector<double> H) {
  const auto t0 = std::chrono::steady_clock::now();
  const int width = weights.w(kinds.front()).cols;
  seen_[width] = sizes_for(width);
  const std::string group_name = fmt::format("layers.{}.{}", layer, linear_name(kinds.front()));

  // One order and one prepared Hessian per group, shared by every linear reading this input.
  std::vector<int32_t> perm;
  PreparedHessian ph;
  switch (o_.method) {
    case QuantMethod::Bwa:
    case QuantMethod::Gptq:
      perm = order_by_hessian_diag(H, width);
      ph = prepare_hessian(permute_symmetric(std::move(H), width, perm), width, o_.percdamp, group_name.c_str());
      break;
    case QuantMethod::Billm:  // BiLLM does not reorder
      perm = identity(width);
      ph = prepare_hessian(std::move(H), width, o_.percdamp, group_name.c_str());
      break;
    case QuantMethod::Rtn:
    case QuantMethod::Fp:
      break;  // no Hessian needed (the driver still computes H: it is cheap next to the block)
  }

  std::vector<std::shared_ptr<const Linear>> out;
  for (LinearKind kind : kinds) {
    const std::string name = fmt::format("layers.{}.{}", layer, linear_name(kind));
    BinaryLinearParams b;  // Binary: the unpacked layer, for its calibration-time replacement
    QuantizedLinear q = quantize_one(weights.w(kind), name, perm, &ph, width, b);
    if (q.kind != QuantizedLinear::Kind::Binary) {
      out.push_back(make_quantized_linear(q, act_, o_.calib_runtime));
    } else if (o_.calib_float) {
      out.push_back(std::make_shared<FakeQuantLinear>(to_permuted(b.dequantize(), b.out_features, b.in_features, b.perm),
                                                      b.out_features, b.in_features, b.perm, b.n_outliers,
                                                      act_.quantize, act_.config, "calibration W(1+1) (float)"));
    } else {
      out.push_back(make_binary_linear(b, act_, o_.calib_runtime));
    }
    linears_.at(size_t(layer) * kLinearKinds + int(kind)) = std::move(q);
  }
  weight_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace binq
