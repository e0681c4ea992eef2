#include "binq/io/hf_config.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "binq/core/error.h"

namespace binq {

using nlohmann::json;

namespace {

// Typed, range-checked access to one JSON object. nlohmann's get<T>() throws its own exception
// types on a type mismatch; config files are user input, so every access is checked here and
// failures become binq::Error naming the file and field.
class Fields {
 public:
  Fields(const json& obj, std::string source, std::string prefix = "")
      : obj_(obj), source_(std::move(source)), prefix_(std::move(prefix)) {}

  // Present and not null.
  bool has(const char* key) const {
    auto it = obj_.find(key);
    return it != obj_.end() && !it->is_null();
  }
  const json& raw(const char* key) const { return *obj_.find(key); }

  int integer(const char* key, int64_t lo, int64_t hi) const {
    if (!has(key)) fail("{}: required field '{}{}' is missing", source_, prefix_, key);
    return to_int(raw(key), key, lo, hi);
  }
  int integer(const char* key, int64_t lo, int64_t hi, int fallback) const {
    return has(key) ? to_int(raw(key), key, lo, hi) : fallback;
  }
  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const json& v = raw(key);
    if (!v.is_number()) fail("{}: field '{}{}' must be a number, got {}", source_, prefix_, key, v.type_name());
    const double d = v.get<double>();
    // Every number ends up in a float: converting a larger double would be undefined.
    if (!(std::fabs(d) <= std::numeric_limits<float>::max()))
      fail("{}: field '{}{}' = {} is not representable as a float", source_, prefix_, key, d);
    return d;
  }
  double required_number(const char* key) const {
    if (!has(key)) fail("{}: required field '{}{}' is missing", source_, prefix_, key);
    return number(key, 0);
  }
  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& v = raw(key);
    if (!v.is_boolean()) fail("{}: field '{}{}' must be true or false, got {}", source_, prefix_, key, v.type_name());
    return v.get<bool>();
  }
  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const json& v = raw(key);
    if (!v.is_string()) fail("{}: field '{}{}' must be a string, got {}", source_, prefix_, key, v.type_name());
    return v.get<std::string>();
  }
  // bos/eos: an integer, a list of integers (the first one is the id the engine uses) or null.
  int token_id(const char* key, int fallback) const {
    if (!has(key)) return fallback;
    const json& v = raw(key);
    if (v.is_array()) {
      if (v.empty()) return fallback;
      return to_int(v.front(), key, 0, std::numeric_limits<int>::max());
    }
    return to_int(v, key, 0, std::numeric_limits<int>::max());
  }

 private:
  int to_int(const json& v, const char* key, int64_t lo, int64_t hi) const {
    int64_t x;
    if (v.is_number_unsigned()) {
      const uint64_t u = v.get<uint64_t>();
      x = u > uint64_t(hi) ? hi + 1 : int64_t(u);  // clamp so the range check below reports it
    } else if (v.is_number_integer()) {
      x = v.get<int64_t>();
    } else if (v.is_number_float() && std::isfinite(v.get<double>()) && v.get<double>() == std::floor(v.get<double>()) &&
               std::fabs(v.get<double>()) < 1e15) {
      x = int64_t(v.get<double>());  // e.g. "max_position_embeddings": 2048.0
    } else {
      fail("{}: field '{}{}' must be an integer, got {}", source_, prefix_, key, v.type_name());
    }
    if (x < lo || x > hi) fail("{}: field '{}{}' = {} is out of range ({}..{})", source_, prefix_, key, x, lo, hi);
    return int(x);
  }

  const json& obj_;
  std::string source_, prefix_;
};

struct ArchInfo {
  const char* architecture;  // transformers class name
  const char* model_type;
  const char* arch;          // ModelConfig::arch
  int default_max_positions;
};
constexpr ArchInfo kArchs[] = {
    {"LlamaForCausalLM", "llama", "llama", 2048},
    {"MistralForCausalLM", "mistral", "mistral", 4096 * 32},
    {"Qwen2ForCausalLM", "qwen2", "qwen2", 32768},
};

const ArchInfo& find_arch(const Fields& f, const std::string& source) {
  if (f.has("architectures")) {
    const json& a = f.raw("architectures");
    if (!a.is_array() || a.empty() || !a.front().is_string())
      fail("{}: field 'architectures' must be a non-empty list of strings", source);
    const std::string name = a.front().get<std::string>();
    for (const ArchInfo& info : kArchs)
      if (name == info.architecture) return info;
    fail("{}: unsupported architecture '{}' (expected LlamaForCausalLM, MistralForCausalLM or Qwen2ForCausalLM)",
         source, name);
  }
  const std::string type = f.string("model_type", "");
  for (const ArchInfo& info : kArchs)
    if (type == info.model_type) return info;
  if (type.empty()) fail("{}: neither 'architectures' nor 'model_type' is set; cannot tell the model family", source);
  fail("{}: unsupported model_type '{}' (expected llama, mistral or qwen2)", source, type);
}

void parse_rope_scaling(const json& rs, const std::string& source, ModelConfig& c) {
  if (!rs.is_object()) fail("{}: field 'rope_scaling' must be an object or null", source);
  Fields f(rs, source, "rope_scaling.");
  // transformers renamed "type" to "rope_type"; accept both, preferring the new key.
  const std::string type = f.has("rope_type") ? f.string("rope_type", "") : f.string("type", "");
  if (type.empty()) fail("{}: 'rope_scaling' has neither 'rope_type' nor 'type'", source);
  RopeScaling& s = c.rope_scaling;
  if (type == "default") {
    s = RopeScaling{};
    return;
  }
  if (type != "linear" && type != "dynamic" && type != "llama3")
    fail("{}: unsupported rope_scaling type '{}' (expected linear, dynamic or llama3)", source, type);
  s.type = type;
  s.factor = float(f.required_number("factor"));
  if (!(s.factor > 0)) fail("{}: rope_scaling.factor ({}) must be positive", source, s.factor);
  if (type == "dynamic") {
    // transformers' dynamic NTK uses max_position_embeddings as the original context.
    s.original_max_position = f.integer("original_max_position_embeddings", 1, 1 << 24, c.max_seq_len);
  } else if (type == "llama3") {
    s.low_freq_factor = float(f.required_number("low_freq_factor"));
    s.high_freq_factor = float(f.required_number("high_freq_factor"));
    s.original_max_position = f.integer("original_max_position_embeddings", 1, 1 << 24);
    if (!(s.low_freq_factor > 0 && s.high_freq_factor > s.low_freq_factor))
      fail("{}: rope_scaling needs 0 < low_freq_factor ({}) < high_freq_factor ({})", source, s.low_freq_factor,
           s.high_freq_factor);
  }
}

// Shortest decimal that reads back as the same float ("1e-05", not 9.999999747378752e-06).
double float_for_json(float v) {
  if (!std::isnormal(v)) return v;  // strtod reports underflow for subnormals; keep those exact
  return std::strtod(fmt::format("{}", v).c_str(), nullptr);
}

}  // namespace

ModelConfig parse_hf_config(const std::string& json_text, const std::string& source) {
  json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) fail("{}: not valid JSON", source);
  if (!root.is_object()) fail("{}: config.json must be a JSON object", source);
  Fields f(root, source);
  const ArchInfo& arch = find_arch(f, source);

  ModelConfig c;
  c.arch = arch.arch;
  // Loose bounds here keep the int conversions safe; ModelConfig::validate has the real limits.
  constexpr int64_t kBig = int64_t(1) << 30;
  c.dim = f.integer("hidden_size", 1, kBig);
  c.hidden_dim = f.integer("intermediate_size", 1, kBig);
  c.n_layers = f.integer("num_hidden_layers", 1, kBig);
  c.n_heads = f.integer("num_attention_heads", 1, kBig);
  c.n_kv_heads = f.integer("num_key_value_heads", 1, kBig, c.n_heads);
  if (f.has("head_dim")) {
    c.head_dim = f.integer("head_dim", 1, kBig);
  } else {
    if (c.dim % c.n_heads != 0)
      fail("{}: hidden_size {} is not a multiple of num_attention_heads {} and no head_dim is given", source, c.dim,
           c.n_heads);
    c.head_dim = c.dim / c.n_heads;
  }
  c.vocab_size = f.integer("vocab_size", 1, kBig);
  c.max_seq_len = f.integer("max_position_embeddings", 1, kBig, arch.default_max_positions);
  c.norm_eps = float(f.number("rms_norm_eps", 1e-6));
  c.rope_theta = float(f.number("rope_theta", 10000.0));
  c.rope_style = RopeStyle::HalfSplit;
  c.tie_embeddings = f.boolean("tie_word_embeddings", false);
  c.qkv_bias = c.arch == "qwen2";
  c.bos_id = f.token_id("bos_token_id", 1);
  c.eos_id = f.token_id("eos_token_id", 2);
  if (f.has("rope_scaling")) parse_rope_scaling(f.raw("rope_scaling"), source, c);

  const std::string act = f.string("hidden_act", "silu");
  if (act != "silu" && act != "swish") fail("{}: hidden_act '{}' is not supported (SwiGLU with silu only)", source, act);
  // Llama's attention_bias also puts a bias on o_proj, and mlp_bias on the MLP: not modelled.
  if (c.arch == "llama" && f.boolean("attention_bias", false))
    fail("{}: attention_bias = true (bias on q/k/v/o) is not supported", source);
  if (c.arch == "llama" && f.boolean("mlp_bias", false)) fail("{}: mlp_bias = true is not supported", source);

  // Sliding-window attention is not implemented; within the window it equals full attention,
  // so clamp the usable context instead of silently computing something else beyond it.
  const bool windowed = (c.arch == "mistral" && f.has("sliding_window")) ||
                        (c.arch == "qwen2" && f.boolean("use_sliding_window", false) && f.has("sliding_window"));
  if (windowed) {
    const int window = f.integer("sliding_window", 1, kBig);
    if (window < c.max_seq_len) {
      warn(fmt::format("{}: sliding_window {} is not implemented; limiting the context to {} tokens", source, window,
                       window));
      c.max_seq_len = window;
    }
  }
  c.validate(source);
  return c;
}

std::string hf_config_json(const ModelConfig& c, const std::string& torch_dtype) {
  json j;
  const char* architecture = c.qkv_bias ? "Qwen2ForCausalLM" : c.arch == "mistral" ? "MistralForCausalLM" : "LlamaForCausalLM";
  j["architectures"] = json::array({architecture});
  j["model_type"] = c.qkv_bias ? "qwen2" : c.arch == "mistral" ? "mistral" : "llama";
  j["hidden_size"] = c.dim;
  j["intermediate_size"] = c.hidden_dim;
  j["num_hidden_layers"] = c.n_layers;
  j["num_attention_heads"] = c.n_heads;
  j["num_key_value_heads"] = c.n_kv_heads;
  j["head_dim"] = c.head_dim;
  j["vocab_size"] = c.vocab_size;
  j["max_position_embeddings"] = c.max_seq_len;
  j["rms_norm_eps"] = float_for_json(c.norm_eps);
  j["rope_theta"] = float_for_json(c.rope_theta);
  j["tie_word_embeddings"] = c.tie_embeddings;
  j["bos_token_id"] = c.bos_id;
  j["eos_token_id"] = c.eos_id;
  j["hidden_act"] = "silu";
  j["torch_dtype"] = torch_dtype;
  if (!c.qkv_bias && c.arch != "mistral") j["attention_bias"] = false;
  if (c.rope_scaling.type == "none") {
    j["rope_scaling"] = nullptr;
  } else {
    const RopeScaling& s = c.rope_scaling;
    json rs = {{"rope_type", s.type}, {"factor", float_for_json(s.factor)}};
    if (s.type == "llama3") {
      rs["low_freq_factor"] = float_for_json(s.low_freq_factor);
      rs["high_freq_factor"] = float_for_json(s.high_freq_factor);
    }
    if (s.original_max_position > 0) rs["original_max_position_embeddings"] = s.original_max_position;
    j["rope_scaling"] = rs;
  }
  return j.dump(2) + "\n";
}

}  // namespace binq
