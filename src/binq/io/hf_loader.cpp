// Hugging Face checkpoint folders: config.json plus model.safetensors, or shards listed in
// model.safetensors.index.json. q/k rows are kept in HF's half-split order (rope_style
// HalfSplit): the engine rotates either pairing, so no permutation is needed on load.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <map>

#include "binq/core/error.h"
#include "binq/core/mapped_file.h"
#include "binq/core/paths.h"
#include "binq/io/checkpoint.h"
#include "binq/io/hf_config.h"
#include "binq/io/io_util.h"
#include "binq/io/safetensors.h"

namespace binq {

namespace {

using nlohmann::json;

// Resolves tensor names to (shard file, header entry), opening each shard once.
class TensorSource {
 public:
  explicit TensorSource(const std::string& dir) : dir_(dir) {
    const std::string index = dir + "/model.safetensors.index.json";
    const std::string single = dir + "/model.safetensors";
    if (path_exists(index)) {
      read_index(index);
    } else if (path_exists(single)) {
      single_ = single;
    } else if (path_exists(dir + "/pytorch_model.bin") || path_exists(dir + "/pytorch_model.bin.index.json")) {
      fail("{}: only PyTorch pickle weights (pytorch_model.bin) found; convert them to safetensors first", dir);
    } else {
      fail("{}: neither model.safetensors nor model.safetensors.index.json exists", dir);
    }
  }

  // Where the tensor lives; nullptr if the checkpoint does not have it.
  const SafetensorsTensor* find(const std::string& name, const SafetensorsFile** file) {
    std::string shard = single_;
    if (shard.empty()) {
      auto it = weight_map_.find(name);
      if (it == weight_map_.end()) return nullptr;
      shard = it->second;
    }
    auto& f = files_[shard];
    if (!f) f = SafetensorsFile::open(shard);
    *file = f.get();
    const SafetensorsTensor* t = f->find(name);
    if (!t && single_.empty())
      fail("{}: tensor '{}' is listed in model.safetensors.index.json but is not in this shard", shard, name);
    return t;
  }

  std::string where() const { return single_.empty() ? dir_ + "/model.safetensors.index.json" : single_; }

 private:
  void read_index(const std::string& index) {
    json j = json::parse(read_text_file(index), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) fail("{}: not valid JSON", index);
    if (!j.is_object()) fail("{}: must be a JSON object", index);
    auto wm = j.find("weight_map");
    if (wm == j.end() || !wm->is_object()) fail("{}: missing object field 'weight_map'", index);
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      if (!it->is_string() || it->get<std::string>().empty())
        fail("{}: weight_map entry '{}' must be a non-empty file name", index, it.key());
      const std::string file = it->get<std::string>();
      // Shards live next to the index; refuse paths that would read elsewhere.
      if (file.find('/') != std::string::npos || file == "." || file == "..")
        fail("{}: weight_map entry '{}' names '{}', expected a file name in the same folder", index, it.key(), file);
      weight_map_[it.key()] = dir_ + "/" + file;
    }
  }

  std::string dir_;
  std::string single_;                             // model.safetensors when not sharded
  std::map<std::string, std::string> weight_map_;  // tensor -> shard path
  std::map<std::string, std::shared_ptr<const SafetensorsFile>> files_;
};

// Fetches tensors by name with the shape the config implies; converted buffers and maps go to
// `keep_alive`. With drop_in_place, F32 tensors used in place from the map get their pages
// dropped from the resident set when `keep_alive` is cleared (per-block loading).
class Fetcher {
 public:
  Fetcher(TensorSource& src, std::vector<std::shared_ptr<const void>>& keep_alive, bool drop_in_place = false)
      : src_(src), keep_(keep_alive), drop_in_place_(drop_in_place) {}

  const float* get(const std::string& name, const std::vector<int64_t>& shape) {
    const SafetensorsFile* f = nullptr;
    const SafetensorsTensor& t = check(name, shape, &f);
    const float* p = f->read_f32(t, keep_);
    if (drop_in_place_ && f->mapped()->contains(p, t.bytes))
      keep_.push_back(io_detail::drop_pages_on_release(f->mapped(), p, t.bytes));
    return p;
  }

  // The tensor, after checking that it exists with this shape (nothing is read).
  const SafetensorsTensor& check(const std::string& name, const std::vector<int64_t>& shape,
                                 const SafetensorsFile** file = nullptr) {
    const SafetensorsFile* f = nullptr;
    const SafetensorsTensor* t = src_.find(name, &f);
    if (!t) fail("{}: tensor '{}' is missing (expected shape [{}])", src_.where(), name, fmt::join(shape, ", "));
    if (t->shape != shape)
      fail("{}: tensor '{}' has shape {}, expected [{}]", f->path(), name, t->shape_string(), fmt::join(shape, ", "));
    if (file) *file = f;
    return *t;
  }

 private:
  TensorSource& src_;
  std::vector<std::shared_ptr<const void>>& keep_;
  bool drop_in_place_;
};

std::string tensor_prefix(int layer) { return fmt::format("model.layers.{}.", layer); }

// HF name of a linear's weight under tensor_prefix(layer).
std::string linear_tensor(LinearKind kind) {
  const bool attn = kind == LinearKind::Q || kind == LinearKind::K || kind == LinearKind::V || kind == LinearKind::O;
  return std::string(attn ? "self_attn." : "mlp.") + linear_name(kind) + ".weight";
}

// LinearLoading::PerBlock: the block's seven weights read (and converted) only when asked for.
class HfLinearSource : public LinearSource {
 public:
  HfLinearSource(const std::string& dir, const ModelConfig& c) : src_(dir), config_(c) {}
  BlockLinears load(int layer) const override {
    BlockLinears b;
    Fetcher fetch(src_, b.keep_alive, /*drop_in_place=*/true);
    for (int k = 0; k < kLinearKinds; ++k) {
      MatrixView& m = b.linear[k];
      linear_shape(config_, LinearKind(k), m.rows, m.cols);
      m.data = fetch.get(tensor_prefix(layer) + linear_tensor(LinearKind(k)), {m.rows, m.cols});
    }
    return b;
  }

 private:
  mutable TensorSource src_;  // opens shards on first use
  ModelConfig config_;
};

}  // namespace

std::shared_ptr<ModelWeights> load_hf_directory(const std::string& dir, LinearLoading linears) {
  if (!is_directory(dir)) fail("{}: not a directory", dir);
  const std::string config_path = dir + "/config.json";
  if (!path_exists(config_path)) fail("{}: no config.json; not a Hugging Face model folder", dir);
  const ModelConfig c = parse_hf_config(read_text_file(config_path), config_path);

  TensorSource src(dir);
  auto w = std::make_shared<ModelWeights>();
  w->config = c;
  w->source = dir;
  Fetcher fetch(src, w->keep_alive);
  const bool per_block = linears == LinearLoading::PerBlock;
  if (per_block) w->linear_source = std::make_shared<HfLinearSource>(dir, c);
  const int64_t D = c.dim;
  w->tok_embeddings = fetch.get("model.embed_tokens.weight", {c.vocab_size, D});
  w->layers.resize(size_t(c.n_layers));
  for (int l = 0; l < c.n_layers; ++l) {
    LayerWeights& L = w->layers[size_t(l)];
    const std::string p = tensor_prefix(l);
    L.attn_norm = fetch.get(p + "input_layernorm.weight", {D});
    L.ffn_norm = fetch.get(p + "post_attention_layernorm.weight", {D});
    for (int k = 0; k < kLinearKinds; ++k) {
      MatrixView& m = L.linear[k];
      linear_shape(c, LinearKind(k), m.rows, m.cols);
      // Per block: only the tensor's presence and shape are checked now; the source reads it.
      if (per_block) fetch.check(p + linear_tensor(LinearKind(k)), {m.rows, m.cols});
      else m.data = fetch.get(p + linear_tensor(LinearKind(k)), {m.rows, m.cols});
    }
    if (c.qkv_bias) {
      L.q_bias = fetch.get(p + "self_attn.q_proj.bias", {c.q_dim()});
      L.k_bias = fetch.get(p + "self_attn.k_proj.bias", {c.kv_dim()});
      L.v_bias = fetch.get(p + "self_attn.v_proj.bias", {c.kv_dim()});
    }
  }
  w->final_norm = fetch.get("model.norm.weight", {D});
  // Tied models share the embedding (transformers ignores a stored lm_head.weight then, too).
  if (c.tie_embeddings)
    w->output = {w->tok_embeddings, c.vocab_size, c.dim};
  else
    w->output = {fetch.get("lm_head.weight", {c.vocab_size, D}), c.vocab_size, c.dim};
  check_loaded_weights(*w);
  return w;
}

}  // namespace binq
