#include "binq/quant/quantized_model.h"

#include <cstring>
#include <exception>
#include <fstream>

#include "binq/core/error.h"
#include "binq/core/half.h"
#include "binq/core/mapped_file.h"
#include "binq/quant/binq_file.h"
#include "binq/quant/bitwise_linear.h"
#include "binq/quant/fake_quant_linear.h"

namespace binq {

namespace {

std::string linear_label(int layer, LinearKind kind) {
  return "layers." + std::to_string(layer) + "." + linear_name(kind);
}

// Dequantized binary layer in permuted column order (what FakeQuantLinear multiplies).
std::vector<float> permuted_weights(const std::vector<float>& original, int out, int in,
                                    const std::vector<int32_t>& perm) {
  std::vector<float> w(size_t(out) * in);
  for (int j = 0; j < out; ++j)
    for (int i = 0; i < in; ++i) w[size_t(j) * in + i] = original[size_t(j) * in + perm[i]];
  return w;
}

// ---- FP16 blobs ------------------------------------------------------------------------------

std::vector<uint16_t> to_fp16(const float* x, size_t n) {
  std::vector<uint16_t> h(n);
  for (size_t i = 0; i < n; ++i) h[i] = float_to_fp16(x[i]);
  return h;
}

std::vector<float> from_fp16(const std::vector<uint16_t>& h) {
  std::vector<float> x(h.size());
  for (size_t i = 0; i < h.size(); ++i) x[i] = fp16_to_float(h[i]);
  return x;
}

nlohmann::json config_to_json(const ModelConfig& c) {
  return {{"arch", c.arch},
          {"dim", c.dim},
          {"hidden_dim", c.hidden_dim},
          {"n_layers", c.n_layers},
          {"n_heads", c.n_heads},
          {"n_kv_heads", c.n_kv_heads},
          {"head_dim", c.head_dim},
          {"vocab_size", c.vocab_size},
          {"max_seq_len", c.max_seq_len},
          {"rope_theta", c.rope_theta},
          {"rope_scaling",
           {{"type", c.rope_scaling.type},
            {"factor", c.rope_scaling.factor},
            {"low_freq_factor", c.rope_scaling.low_freq_factor},
            {"high_freq_factor", c.rope_scaling.high_freq_factor},
            {"original_max_position", c.rope_scaling.original_max_position}}},
          {"rope_style", c.rope_style == RopeStyle::Interleaved ? "interleaved" : "half-split"},
          {"norm_eps", c.norm_eps},
          {"tie_embeddings", c.tie_embeddings},
          {"qkv_bias", c.qkv_bias},
          {"bos_id", c.bos_id},
          {"eos_id", c.eos_id}};
}

ModelConfig config_from_json(const nlohmann::json& j, const std::string& path) {
  ModelConfig c;
  try {
    c.arch = j.at("arch").get<std::string>();
    c.dim = j.at("dim").get<int>();
    c.hidden_dim = j.at("hidden_dim").get<int>();
    c.n_layers = j.at("n_layers").get<int>();
    c.n_heads = j.at("n_heads").get<int>();
    c.n_kv_heads = j.at("n_kv_heads").get<int>();
    c.head_dim = j.at("head_dim").get<int>();
    c.vocab_size = j.at("vocab_size").get<int>();
    c.max_seq_len = j.at("max_seq_len").get<int>();
    c.rope_theta = j.at("rope_theta").get<float>();
    const auto& rs = j.at("rope_scaling");
    c.rope_scaling.type = rs.at("type").get<std::string>();
    c.rope_scaling.factor = rs.at("factor").get<float>();
    c.rope_scaling.low_freq_factor = rs.at("low_freq_factor").get<float>();
    c.rope_scaling.high_freq_factor = rs.at("high_freq_factor").get<float>();
    c.rope_scaling.original_max_position = rs.at("original_max_position").get<int>();
    const std::string style = j.at("rope_style").get<std::string>();
    if (style != "interleaved" && style != "half-split") fail("{}: unknown rope_style '{}'", path, style);
    c.rope_style = style == "interleaved" ? RopeStyle::Interleaved : RopeStyle::HalfSplit;
    c.norm_eps = j.at("norm_eps").get<float>();
    c.tie_embeddings = j.at("tie_embeddings").get<bool>();
    c.qkv_bias = j.at("qkv_bias").get<bool>();
    c.bos_id = j.at("bos_id").get<int>();
    c.eos_id = j.at("eos_id").get<int>();
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed \"model\" section of the header: {}", path, e.what());
  }
  c.validate(path);
  return c;
}

// Every quantized linear must be present and of the right shape before anything is written.
void check_model(const QuantizedModel& m) {
  if (!m.base) fail("write_binq: no base weights");
  const ModelConfig& c = m.base->config;
  if (m.linears.size() != size_t(c.n_layers) * kLinearKinds)
    fail("write_binq: {} quantized linears, expected {}", m.linears.size(), size_t(c.n_layers) * kLinearKinds);
  for (int l = 0; l < c.n_layers; ++l)
    for (int k = 0; k < kLinearKinds; ++k) {
      const QuantizedLinear& q = m.linears[size_t(l) * kLinearKinds + k];
      const MatrixView& w = m.base->layers[l].linear[k];
      const std::string name = linear_label(l, LinearKind(k));
      int out = q.kind == QuantizedLinear::Kind::Binary ? q.binary.out_features : q.out_features;
      int in = q.kind == QuantizedLinear::Kind::Binary ? q.binary.in_features : q.in_features;
      if (out != w.rows || in != w.cols)
        fail("write_binq: {} is [{} x {}], expected [{} x {}]", name, out, in, w.rows, w.cols);
      if (q.kind == QuantizedLinear::Kind::Binary) q.binary.validate(name.c_str());
    }
}

}  // namespace

// ---- runtime ------------------------------------------------------------------------------

namespace {
// The bitwise kernels need 4-bit activation planes; anything else runs in simulation.
bool bitwise_runs(const ActivationRecipe& act, BinqRuntime runtime) {
  return runtime == BinqRuntime::Bitwise && act.quantize && act.config.bits == 4;
}
}  // namespace

std::shared_ptr<const Linear> make_quantized_linear(const QuantizedLinear& q, const ActivationRecipe& act,
                                                    BinqRuntime runtime) {
  if (q.kind == QuantizedLinear::Kind::Dense)
    return std::make_shared<FakeQuantLinear>(from_fp16(q.dense), q.out_features, q.in_features, q.perm, q.n_outliers,
                                             act.quantize, act.config, "simulated dense (baseline)");
  if (bitwise_runs(act, runtime))  // packed straight from the file's bits (2 bytes per weight less)
    return std::make_shared<BitwiseLinear>(pack(q.binary.unpack_params(), q.binary.sign, q.binary.bitmap), act.config);
  return make_binary_linear(q.binary.unpack(), act, runtime);
}

std::shared_ptr<const Linear> make_binary_linear(const BinaryLinearParams& p, const ActivationRecipe& act,
                                                 BinqRuntime runtime) {
  if (bitwise_runs(act, runtime)) return std::make_shared<BitwiseLinear>(p, act.config);
  if (act.quantize && act.config.bits == 4) return std::make_shared<SimulatedBinaryLinear>(p, act.config);
  return std::make_shared<FakeQuantLinear>(permuted_weights(p.dequantize(), p.out_features, p.in_features, p.perm),
                                           p.out_features, p.in_features, p.perm, p.n_outliers, act.quantize,
                                           act.config, "simulated W(1+1), non-plane activations");
}

// ---- writing ------------------------------------------------------------------------------

void write_binq(const QuantizedModel& m, const std::string& path) {
  check_model(m);
  const ModelWeights& w = *m.base;
  const ModelConfig& c = w.config;
  BinqWriter out;
  auto add_f16 = [&](const std::string& name, const float* x, std::vector<int64_t> shape) {
    size_t n = 1;
    for (int64_t s : shape) n *= size_t(s);
    out.add(name, "f16", std::move(shape), to_fp16(x, n));
  };
  add_f16("tok_embeddings", w.tok_embeddings, {c.vocab_size, c.dim});
  if (!c.tie_embeddings) add_f16("output", w.output.data, {c.vocab_size, c.dim});
  add_f16("final_norm", w.final_norm, {c.dim});

  nlohmann::json linears = nlohmann::json::array();
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& L = w.layers[l];
    const std::string p = "layers." + std::to_string(l) + ".";
    add_f16(p + "attn_norm", L.attn_norm, {c.dim});
    add_f16(p + "ffn_norm", L.ffn_norm, {c.dim});
    if (c.qkv_bias) {
      add_f16(p + "q_bias", L.q_bias, {c.q_dim()});
      add_f16(p + "k_bias", L.k_bias, {c.kv_dim()});
      add_f16(p + "v_bias", L.v_bias, {c.kv_dim()});
    }
    // Linears reading the same activation share one permutation: store each distinct one once.
    std::vector<std::pair<const std::vector<int32_t>*, std::string>> perms;
    auto perm_blob = [&](const std::vector<int32_t>& perm, const std::string& owner) {
      for (auto& [v, name] : perms)
        if (*v == perm) return name;
      std::string name = owner + ".perm";
      out.add_ref(name, "i32", {int64_t(perm.size())}, perm.data(), perm.size() * 4);
      perms.emplace_back(&perm, name);
      return name;
    };
    for (int k = 0; k < kLinearKinds; ++k) {
      const QuantizedLinear& q = m.linears[size_t(l) * kLinearKinds + k];
      const std::string name = linear_label(l, LinearKind(k));
      if (q.kind == QuantizedLinear::Kind::Binary) {
        // Held in the file's own encoding (CompactBinaryLinear): written from where it is.
        const CompactBinaryLinear& b = q.binary;
        const int nb = b.n_blocks(), K = b.n_outliers;
        out.add_ref(name + ".sign", "u1", {b.out_features, b.binary_width()}, b.sign.data(), b.sign.size());
        out.add_ref(name + ".bitmap", "u1", {b.out_features, b.binary_width()}, b.bitmap.data(), b.bitmap.size());
        out.add_ref(name + ".params", "f16", {4, b.out_features, nb}, b.params.data(), b.params.size() * 2);
        if (K > 0) {
          out.add_ref(name + ".outlier_w", "i8", {b.out_features, K}, b.outlier_w.data(), b.outlier_w.size());
          out.add_ref(name + ".outlier_scale", "f16", {b.out_features}, b.outlier_scale.data(),
                      b.outlier_scale.size() * 2);
        }
        linears.push_back({{"name", name}, {"kind", "binary"}, {"out", b.out_features}, {"in", b.in_features},
                           {"outliers", K}, {"block", b.block_size}, {"perm", perm_blob(b.perm, name)}});
      } else {
        out.add_ref(name + ".weight", "f16", {q.out_features, q.in_features}, q.dense.data(), q.dense.size() * 2);
        linears.push_back({{"name", name}, {"kind", "dense"}, {"out", q.out_features}, {"in", q.in_features},
                           {"outliers", q.n_outliers}, {"nominal_bits", q.nominal_bits},
                           {"perm", perm_blob(q.perm, name)}});
      }
    }
  }
  auto& h = out.header();
  h["format"] = "binq";
  h["model"] = config_to_json(c);
  h["quant"] = m.recipe;
  const ActivationRecipe& a = m.activations;
  h["activations"] = {{"quantize", a.quantize}, {"bits", a.config.bits}, {"balance", balance_name(a.config.balance)},
                      {"outlier_bits", a.config.outlier_bits}, {"kv_bits", a.kv_bits}};
  h["linears"] = linears;
  if (!m.tokenizer_path.empty()) {
    std::string bytes = read_text_file(m.tokenizer_path);
    out.add("tokenizer", "u8", {int64_t(bytes.size())}, bytes.data(), bytes.size());
    h["tokenizer"] = {{"file", m.tokenizer_path.substr(m.tokenizer_path.find_last_of('/') + 1)}};
  }
  out.write(path);
}

// ---- reading ------------------------------------------------------------------------------

namespace {

std::vector<float> read_f16(const BinqReader& r, const std::string& name, size_t n) {
  const uint16_t* h = reinterpret_cast<const uint16_t*>(r.blob(name, "f16", n * 2));
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = fp16_to_float(h[i]);
  return x;
}

const float* read_f16_into(const BinqReader& r, ModelWeights& w, const std::string& name, size_t n) {
  std::vector<float> x = read_f16(r, name, n);
  float* dst = w.allocate(n);
  std::copy(x.begin(), x.end(), dst);
  return dst;
}

std::vector<int32_t> read_perm(const BinqReader& r, const std::string& name, int in) {
  const int32_t* p = reinterpret_cast<const int32_t*>(r.blob(name, "i32", size_t(in) * 4));
  std::vector<int32_t> perm(p, p + in);
  std::vector<uint8_t> seen(in, 0);
  for (int32_t v : perm) {
    if (v < 0 || v >= in || seen[v]) fail("{}: blob '{}' is not a permutation of 0..{}", r.path(), name, in - 1);
    seen[v] = 1;
  }
  return perm;
}

QuantizedLinear read_linear(const BinqReader& r, const nlohmann::json& e) {
  QuantizedLinear q;
  const std::string name = e.at("name").get<std::string>(), kind = e.at("kind").get<std::string>();
  const int out = e.at("out").get<int>(), in = e.at("in").get<int>(), K = e.at("outliers").get<int>();
  if (out <= 0 || in <= 0 || K < 0 || K > in) fail("{}: linear '{}' has invalid sizes", r.path(), name);
  std::vector<int32_t> perm = read_perm(r, e.at("perm").get<std::string>(), in);
  if (kind == "dense") {
    q.kind = QuantizedLinear::Kind::Dense;
    q.out_features = out, q.in_features = in, q.n_outliers = K;
    const auto* h = reinterpret_cast<const uint16_t*>(r.blob(name + ".weight", "f16", size_t(out) * in * 2));
    q.dense.assign(h, h + size_t(out) * in);
    q.perm = std::move(perm);
    q.nominal_bits = e.value("nominal_bits", 0.0);
    return q;
  }
  if (kind != "binary") fail("{}: linear '{}' has unknown kind '{}'", r.path(), name, kind);
  CompactBinaryLinear& b = q.binary;
  b.out_features = out, b.in_features = in, b.n_outliers = K;
  b.block_size = e.at("block").get<int>();
  if (b.block_size <= 0) fail("{}: linear '{}' has block size {}", r.path(), name, b.block_size);
  b.perm = std::move(perm);
  const size_t nbytes = (size_t(out) * b.binary_width() + 7) / 8, nparams = 4 * size_t(out) * b.n_blocks();
  // The blobs are the compact form's own encoding: copied, not decoded.
  auto copy = [&](const std::string& blob, const std::string& dtype, size_t n, auto& dst) {
    using T = typename std::decay_t<decltype(dst)>::value_type;
    const T* p = reinterpret_cast<const T*>(r.blob(blob, dtype, n * sizeof(T)));
    dst.assign(p, p + n);
  };
  copy(name + ".sign", "u1", nbytes, b.sign);
  copy(name + ".bitmap", "u1", nbytes, b.bitmap);
  copy(name + ".params", "f16", nparams, b.params);
  if (K > 0) {
    copy(name + ".outlier_w", "i8", size_t(out) * K, b.outlier_w);
    copy(name + ".outlier_scale", "f16", size_t(out), b.outlier_scale);
  } else {
    b.outlier_scale.assign(out, 0);
  }
  b.validate(name.c_str());
  return q;
}

}  // namespace

bool is_binq_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  return in.read(magic, 8) && std::memcmp(magic, kBinqMagic, 8) == 0;
}

LoadedBinq load_binq(const std::string& path, BinqRuntime runtime) {
  BinqReader r(path);
  const nlohmann::json& h = r.header();
  LoadedBinq out;
  out.header = h;
  out.file_bytes = int64_t(r.file_size());
  try {
    if (h.value("format", "") != "binq") fail("{}: header \"format\" is not \"binq\"", path);
    auto w = std::make_shared<ModelWeights>();
    const ModelConfig c = w->config = config_from_json(h.at("model"), path);
    w->source = path;
    w->tok_embeddings = read_f16_into(r, *w, "tok_embeddings", size_t(c.vocab_size) * c.dim);
    w->final_norm = read_f16_into(r, *w, "final_norm", c.dim);
    // The head stays FP16 in memory (Fp16Linear below): it is read once per decoded token.
    w->output = {nullptr, c.vocab_size, c.dim};
    w->layers.resize(c.n_layers);
    for (int l = 0; l < c.n_layers; ++l) {
      LayerWeights& L = w->layers[l];
      const std::string p = "layers." + std::to_string(l) + ".";
      L.attn_norm = read_f16_into(r, *w, p + "attn_norm", c.dim);
      L.ffn_norm = read_f16_into(r, *w, p + "ffn_norm", c.dim);
      if (c.qkv_bias) {
        L.q_bias = read_f16_into(r, *w, p + "q_bias", c.q_dim());
        L.k_bias = read_f16_into(r, *w, p + "k_bias", c.kv_dim());
        L.v_bias = read_f16_into(r, *w, p + "v_bias", c.kv_dim());
      }
      for (int k = 0; k < kLinearKinds; ++k) {  // no FP32 data: the quantized layers are set below
        L.linear[k].data = nullptr;
        linear_shape(c, LinearKind(k), L.linear[k].rows, L.linear[k].cols);
      }
    }
    w->validate();
    if (std::string bad = w->find_non_finite(); !bad.empty()) fail("{}: tensor '{}' contains NaN or Inf", path, bad);

    const auto& a = h.at("activations");
    ActivationRecipe act;
    act.quantize = a.at("quantize").get<bool>();
    act.config.bits = a.at("bits").get<int>();
    act.config.balance = parse_balance(a.at("balance").get<std::string>(), "activations.balance");
    act.config.outlier_bits = a.at("outlier_bits").get<int>();
    act.kv_bits = a.at("kv_bits").get<int>();

    out.model = std::make_shared<LlamaModel>(w);
    out.model->set_kv_bits(act.kv_bits);
    const std::string head_blob = c.tie_embeddings ? "tok_embeddings" : "output";
    const uint16_t* hp = reinterpret_cast<const uint16_t*>(r.blob(head_blob, "f16", size_t(c.vocab_size) * c.dim * 2));
    out.model->set_head(std::make_shared<Fp16Linear>(std::vector<uint16_t>(hp, hp + size_t(c.vocab_size) * c.dim),
                                                     c.vocab_size, c.dim));
    const auto& linears = h.at("linears");
    if (!linears.is_array() || linears.size() != size_t(c.n_layers) * kLinearKinds)
      fail("{}: header lists {} linears, expected {}", path, linears.is_array() ? linears.size() : 0,
           size_t(c.n_layers) * kLinearKinds);
    const int n_linears = c.n_layers * kLinearKinds;
    for (int i = 0; i < n_linears; ++i) {
      const std::string name = linears[size_t(i)].at("name").get<std::string>();
      if (name != linear_label(i / kLinearKinds, LinearKind(i % kLinearKinds)))
        fail("{}: linear #{} is '{}', expected '{}'", path, i, name,
             linear_label(i / kLinearKinds, LinearKind(i % kLinearKinds)));
    }
    // Layers are read and packed on all threads (independent, read-only file). The error of the
    // first bad layer in file order is the one reported, whichever thread met it.
    std::vector<std::shared_ptr<const Linear>> built(n_linears);
    std::vector<std::exception_ptr> errors(n_linears);
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < n_linears; ++i) {
      try {
        built[i] = make_quantized_linear(read_linear(r, linears[size_t(i)]), act, runtime);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
    for (int i = 0; i < n_linears; ++i) {
      if (errors[i]) std::rethrow_exception(errors[i]);
      out.model->set_linear({i / kLinearKinds, LinearKind(i % kLinearKinds)}, built[i]);
    }
    if (r.has("tokenizer")) {
      const BlobInfo& t = r.info("tokenizer");
      const uint8_t* bytes = r.blob("tokenizer", "u8", t.bytes);
      out.tokenizer_bytes.assign(reinterpret_cast<const char*>(bytes), t.bytes);
    }
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed header: {}", path, e.what());
  }
  return out;
}

}  // namespace binq
