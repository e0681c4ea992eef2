#include "binq/io/safetensors_writer.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <deque>
#include <functional>
#include <filesystem>

#include "binq/core/error.h"
#include "binq/core/half.h"
#include "binq/core/mapped_file.h"
#include "binq/io/hf_config.h"
#include "binq/io/io_util.h"
#include "binq/io/rope_permute.h"

namespace binq {

using nlohmann::json;

const char* dtype_name(TensorDType dtype) {
  switch (dtype) {
    case TensorDType::F32: return "F32";
    case TensorDType::F16: return "F16";
    case TensorDType::BF16: return "BF16";
  }
  return "?";
}

namespace {

uint64_t dtype_bytes(TensorDType d) { return d == TensorDType::F32 ? 4 : 2; }

uint64_t numel_of(const TensorToWrite& t) {
  uint64_t n = 1;
  for (int64_t d : t.shape) {
    if (d < 0) fail("safetensors writer: tensor '{}' has a negative dimension", t.name);
    n *= uint64_t(d);
  }
  return n;
}

const char* torch_dtype(TensorDType d) {
  return d == TensorDType::F32 ? "float32" : d == TensorDType::F16 ? "float16" : "bfloat16";
}

}  // namespace

namespace {

using Sink = std::function<void(const char*, size_t)>;

// Emits the file piece by piece so a multi-GB checkpoint never sits in memory twice.
void emit_safetensors(const std::vector<TensorToWrite>& tensors,
                      const std::vector<std::pair<std::string, std::string>>& metadata, const Sink& sink) {
  json header = json::object();
  if (!metadata.empty()) {
    json meta = json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = meta;
  }
  uint64_t offset = 0;
  for (const TensorToWrite& t : tensors) {
    if (t.name == "__metadata__" || header.contains(t.name))
      fail("safetensors writer: tensor name '{}' is reserved or used twice", t.name);
    const uint64_t bytes = numel_of(t) * dtype_bytes(t.dtype);
    if (bytes > 0 && !t.data) fail("safetensors writer: tensor '{}' has no data", t.name);
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');  // trailing spaces are valid JSON; keeps data 8-aligned
  const uint64_t len = text.size();
  sink(reinterpret_cast<const char*>(&len), 8);
  sink(text.data(), text.size());

  std::vector<uint16_t> halves;
  constexpr uint64_t kChunk = 1 << 20;
  for (const TensorToWrite& t : tensors) {
    const uint64_t n = numel_of(t);
    if (t.dtype == TensorDType::F32) {
      sink(reinterpret_cast<const char*>(t.data), n * 4);
      continue;
    }
    for (uint64_t begin = 0; begin < n; begin += kChunk) {
      const uint64_t count = std::min(kChunk, n - begin);
      halves.resize(count);
      for (uint64_t i = 0; i < count; ++i) {
        const float x = t.data[begin + i];
        halves[i] = t.dtype == TensorDType::F16 ? float_to_fp16(x) : float_to_bf16(x);
      }
      sink(reinterpret_cast<const char*>(halves.data()), count * 2);
    }
  }
}

}  // namespace

std::string safetensors_bytes(const std::vector<TensorToWrite>& tensors,
                              const std::vector<std::pair<std::string, std::string>>& metadata) {
  std::string out;
  emit_safetensors(tensors, metadata, [&](const char* p, size_t n) { out.append(p, n); });
  return out;
}

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors) {
  io_detail::AtomicFileWriter file(path);
  emit_safetensors(tensors, {{"format", "pt"}}, [&](const char* p, size_t n) { file.write(p, n); });
  file.commit();
}

void write_hf_directory(const ModelWeights& w, const std::string& dir, const HfWriteOptions& options) {
  namespace fs = std::filesystem;
  const ModelConfig& c = w.config;
  w.validate();
  io_detail::require_fp32_data(w, dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("{}: cannot create folder: {}", dir, ec.message());

  // HF rotates half-split pairs; llama2.c-origin weights get their q/k rows (and biases)
  // reordered per head so that both conventions compute the same attention.
  const bool permute = c.rope_style == RopeStyle::Interleaved;
  std::deque<std::vector<float>> permuted;  // deque: element addresses stay valid as it grows
  auto qk = [&](const float* data, int heads, int cols) -> const float* {
    if (!permute) return data;
    permuted.emplace_back(size_t(heads) * c.head_dim * cols);
    permute_interleaved_to_halfsplit(data, permuted.back().data(), heads, c.head_dim, cols);
    return permuted.back().data();
  };

  std::vector<TensorToWrite> tensors;
  const TensorDType dt = options.dtype;
  const int64_t D = c.dim;
  tensors.push_back({"model.embed_tokens.weight", dt, {c.vocab_size, D}, w.tok_embeddings});
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& L = w.layers[size_t(l)];
    const std::string p = fmt::format("model.layers.{}.", l);
    tensors.push_back({p + "input_layernorm.weight", dt, {D}, L.attn_norm});
    for (int k = 0; k < kLinearKinds; ++k) {
      const LinearKind kind = LinearKind(k);
      const MatrixView& m = L.linear[k];
      const bool attn = k <= int(LinearKind::O);
      const float* data = m.data;
      if (kind == LinearKind::Q) data = qk(m.data, c.n_heads, m.cols);
      if (kind == LinearKind::K) data = qk(m.data, c.n_kv_heads, m.cols);
      tensors.push_back({p + (attn ? "self_attn." : "mlp.") + linear_name(kind) + ".weight", dt, {m.rows, m.cols}, data});
      if (c.qkv_bias && k <= int(LinearKind::V)) {
        const float* bias = kind == LinearKind::Q ? qk(L.q_bias, c.n_heads, 1)
                            : kind == LinearKind::K ? qk(L.k_bias, c.n_kv_heads, 1)
                                                    : L.v_bias;
        tensors.push_back({p + "self_attn." + linear_name(kind) + ".bias", dt, {m.rows}, bias});
      }
    }
    tensors.push_back({p + "post_attention_layernorm.weight", dt, {D}, L.ffn_norm});
  }
  tensors.push_back({"model.norm.weight", dt, {D}, w.final_norm});
  if (!c.tie_embeddings) tensors.push_back({"lm_head.weight", dt, {c.vocab_size, D}, w.output.data});

  // Group tensors into shards (in order) of at most max_shard_bytes of data each.
  std::vector<std::vector<TensorToWrite>> shards(1);
  uint64_t shard_bytes = 0, total_bytes = 0;
  for (const TensorToWrite& t : tensors) {
    const uint64_t bytes = numel_of(t) * dtype_bytes(t.dtype);
    if (options.max_shard_bytes > 0 && !shards.back().empty() && shard_bytes + bytes > options.max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(t);
    shard_bytes += bytes;
    total_bytes += bytes;
  }

  // A stale file of the other layout would shadow (index) or confuse the new one.
  const std::string index_path = dir + "/model.safetensors.index.json";
  const bool sharded = options.max_shard_bytes > 0;
  fs::remove(sharded ? dir + "/model.safetensors" : index_path, ec);
  if (!sharded) {
    write_safetensors(dir + "/model.safetensors", shards[0]);
  } else {
    json weight_map = json::object();
    for (size_t s = 0; s < shards.size(); ++s) {
      const std::string name = fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, shards.size());
      write_safetensors(dir + "/" + name, shards[s]);
      for (const TensorToWrite& t : shards[s]) weight_map[t.name] = name;
    }
    json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
    const std::string text = index.dump(2) + "\n";
    write_file_atomic(index_path, text.data(), text.size());
  }
  // config.json last: a folder interrupted mid-write has no config and is not mistaken for a model.
  const std::string config = hf_config_json(c, torch_dtype(dt));
  write_file_atomic(dir + "/config.json", config.data(), config.size());
}

}  // namespace binq
