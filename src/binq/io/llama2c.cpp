// llama2.c checkpoints: reader (load_llama2c) and writer (write_llama2c). Both walk the same
// layout description so the tensor order is written down exactly once. See llama2c.h for the
// two file layouts (read from export.py's legacy_export and version1_export).
#include "binq/io/llama2c.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "binq/core/error.h"
#include "binq/core/mapped_file.h"
#include "binq/io/checkpoint.h"
#include "binq/io/io_util.h"
#include "binq/io/rope_permute.h"

namespace binq {

namespace {


enum class Part { TokEmb, AttnNorm, FfnNorm, FinalNorm, Linear, FreqReal, FreqImag, Classifier };

struct Segment {
  Part part;
  int layer = -1;                  // for per-layer parts
  LinearKind kind = LinearKind::Q; // for Part::Linear
  uint64_t floats = 0;
};

// The tensors of a llama2.c file in file order. `c` must already be validated (sizes bounded),
// so the products below cannot overflow 64 bits.
std::vector<Segment> layout(const ModelConfig& c, Llama2cFormat format, bool shared) {
  std::vector<Segment> segs;
  const uint64_t D = uint64_t(c.dim);
  auto per_layer = [&](Part part, uint64_t floats) {
    for (int l = 0; l < c.n_layers; ++l) segs.push_back({part, l, LinearKind::Q, floats});
  };
  auto linears = [&](LinearKind kind) {
    int rows, cols;
    linear_shape(c, kind, rows, cols);
    for (int l = 0; l < c.n_layers; ++l) segs.push_back({Part::Linear, l, kind, uint64_t(rows) * uint64_t(cols)});
  };
  const uint64_t emb = uint64_t(c.vocab_size) * D;
  if (format == Llama2cFormat::Legacy) {
    segs.push_back({Part::TokEmb, -1, LinearKind::Q, emb});
    per_layer(Part::AttnNorm, D);
    for (LinearKind k : {LinearKind::Q, LinearKind::K, LinearKind::V, LinearKind::O}) linears(k);
    per_layer(Part::FfnNorm, D);
    // w1 = gate, w2 = down, w3 = up.
    for (LinearKind k : {LinearKind::Gate, LinearKind::Down, LinearKind::Up}) linears(k);
    segs.push_back({Part::FinalNorm, -1, LinearKind::Q, D});
    const uint64_t freq = uint64_t(c.max_seq_len) * uint64_t(c.head_dim / 2);
    segs.push_back({Part::FreqReal, -1, LinearKind::Q, freq});
    segs.push_back({Part::FreqImag, -1, LinearKind::Q, freq});
  } else {
    per_layer(Part::AttnNorm, D);
    per_layer(Part::FfnNorm, D);
    segs.push_back({Part::FinalNorm, -1, LinearKind::Q, D});
    segs.push_back({Part::TokEmb, -1, LinearKind::Q, emb});
    for (LinearKind k : {LinearKind::Q, LinearKind::K, LinearKind::V, LinearKind::O, LinearKind::Gate,
                         LinearKind::Down, LinearKind::Up})
      linears(k);
  }
  if (!shared) segs.push_back({Part::Classifier, -1, LinearKind::Q, emb});
  return segs;
}

std::string segment_name(const Segment& s) {
  switch (s.part) {
    case Part::TokEmb: return "token_embedding_table";
    case Part::AttnNorm: return fmt::format("rms_att_weight[{}]", s.layer);
    case Part::FfnNorm: return fmt::format("rms_ffn_weight[{}]", s.layer);
    case Part::FinalNorm: return "rms_final_weight";
    case Part::Linear: {
      static const char* names[kLinearKinds] = {"wq", "wk", "wv", "wo", "w1", "w3", "w2"};
      return fmt::format("{}[{}]", names[int(s.kind)], s.layer);
    }
    case Part::FreqReal: return "freq_cis_real";
    case Part::FreqImag: return "freq_cis_imag";
    case Part::Classifier: return "wcls";
  }
  return "?";
}

struct Header {
  Llama2cFormat format = Llama2cFormat::Legacy;
  int32_t fields[7] = {};  // dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
  bool shared = true;
  uint64_t data_offset = 0;
};

int32_t read_i32(const MappedFile& f, uint64_t offset, const char* what) {
  int32_t v;
  std::memcpy(&v, f.at(offset, 4, what), 4);
  return v;
}

Header read_header(const MappedFile& f) {
  Header h;
  uint64_t params_offset = 0;
  if (f.size() >= 4 && uint32_t(read_i32(f, 0, "llama2.c magic")) == kLlama2cMagic) {
    const int32_t version = read_i32(f, 4, "llama2.c version (after magic 'ak42')");
    if (version == 2)
      fail("{}: llama2.c version 2 (Q8_0 quantized) checkpoints are not supported; export with "
           "export.py --version 1 (fp32) instead",
           f.path());
    if (version != 1) fail("{}: unknown llama2.c checkpoint version {} (expected 1; magic was 'ak42')", f.path(), version);
    f.at(0, kLlama2cV1HeaderBytes, "llama2.c v1 header (256 bytes)");
    h.format = Llama2cFormat::V1;
    params_offset = 8;
    const uint8_t flag = f.data()[8 + 7 * 4];
    if (flag > 1) fail("{}: llama2.c v1 header: shared_classifier byte is {} (expected 0 or 1)", f.path(), flag);
    h.shared = flag == 1;
    h.data_offset = kLlama2cV1HeaderBytes;
  } else {
    f.at(0, 28, "llama2.c header (7 x int32)");
    h.data_offset = 28;
  }
  for (int i = 0; i < 7; ++i) h.fields[i] = read_i32(f, params_offset + 4 * i, "llama2.c header");
  return h;
}

ModelConfig config_from_header(Header& h, const std::string& path) {
  static const char* names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
  int64_t vocab = h.fields[5];
  if (h.format == Llama2cFormat::Legacy) {
    // Legacy files flag an unshared classifier with a negative vocab size (int64: no -INT_MIN).
    h.shared = vocab > 0;
    vocab = vocab < 0 ? -vocab : vocab;
  } else if (vocab <= 0) {
    fail("{}: llama2.c v1 header field 'vocab_size' = {} must be positive", path, vocab);
  }
  // Range-check before any arithmetic so a lying header cannot overflow the size computation.
  const int64_t limits[7] = {1 << 16, 1 << 18, 1024, 1024, 1024, 1 << 22, 1 << 24};
  for (int i = 0; i < 7; ++i) {
    const int64_t v = i == 5 ? vocab : h.fields[i];
    if (v <= 0 || v > limits[i])
      fail("{}: llama2.c header field '{}' = {} is out of range (1..{}); not a llama2.c checkpoint or corrupt",
           path, names[i], v, limits[i]);
  }
  ModelConfig c;
  c.arch = "llama";
  c.dim = h.fields[0];
  c.hidden_dim = h.fields[1];
  c.n_layers = h.fields[2];
  c.n_heads = h.fields[3];
  c.n_kv_heads = h.fields[4];
  c.vocab_size = int(vocab);
  c.max_seq_len = h.fields[6];
  if (c.dim % c.n_heads != 0)
    fail("{}: llama2.c header: dim {} is not a multiple of n_heads {}", path, c.dim, c.n_heads);
  c.head_dim = c.dim / c.n_heads;
  c.rope_theta = 10000.0f;
  c.rope_style = RopeStyle::Interleaved;
  c.norm_eps = 1e-5f;
  c.tie_embeddings = h.shared;
  c.bos_id = 1;
  c.eos_id = 2;
  c.validate(path);
  return c;
}

// LinearLoading::PerBlock: every tensor already lies in the map, so a block is its views;
// their pages leave the resident set again when the block is released.
class MappedLinearSource : public LinearSource {
 public:
  MappedLinearSource(std::shared_ptr<const MappedFile> file, std::vector<LayerWeights> layers)
      : file_(std::move(file)), layers_(std::move(layers)) {}
  BlockLinears load(int layer) const override {
    BlockLinears b;
    for (int k = 0; k < kLinearKinds; ++k) {
      b.linear[k] = layers_.at(size_t(layer)).linear[k];
      b.keep_alive.push_back(
          io_detail::drop_pages_on_release(file_, b.linear[k].data, size_t(b.linear[k].numel()) * sizeof(float)));
    }
    return b;
  }

 private:
  std::shared_ptr<const MappedFile> file_;
  std::vector<LayerWeights> layers_;  // only the linear views are used
};

}  // namespace

std::shared_ptr<ModelWeights> load_llama2c(const std::string& path, LinearLoading linears) {
  auto file = MappedFile::open(path);
  Header h = read_header(*file);
  const ModelConfig c = config_from_header(h, path);
  const std::vector<Segment> segs = layout(c, h.format, h.shared);

  uint64_t expected = h.data_offset;
  for (const Segment& s : segs) expected += s.floats * sizeof(float);
  if (expected != file->size()) {
    const char* fmt_name = h.format == Llama2cFormat::Legacy ? "legacy" : "v1";
    const std::string desc =
        fmt::format("dim {}, hidden {}, layers {}, heads {}/{}, vocab {}, seq {}, {} classifier", c.dim, c.hidden_dim,
                    c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.max_seq_len, h.shared ? "shared" : "separate");
    if (expected > file->size())
      fail("{}: llama2.c {} header ({}) implies {} bytes but the file has only {}: truncated", path, fmt_name, desc,
           expected, file->size());
    fail("{}: llama2.c {} header ({}) implies {} bytes but the file has {} ({} unexpected trailing bytes): the "
         "header does not describe this file",
         path, fmt_name, desc, expected, file->size(), file->size() - expected);
  }

  auto w = std::make_shared<ModelWeights>();
  w->config = c;
  w->source = path;
  w->keep_alive.push_back(file);
  w->layers.resize(size_t(c.n_layers));
  uint64_t offset = h.data_offset;
  for (const Segment& s : segs) {
    // Offsets are multiples of 4 from a page-aligned map, so the float pointers are aligned.
    auto p = reinterpret_cast<const float*>(file->at(offset, s.floats * sizeof(float), segment_name(s)));
    offset += s.floats * sizeof(float);
    switch (s.part) {
      case Part::TokEmb: w->tok_embeddings = p; break;
      case Part::AttnNorm: w->layers[s.layer].attn_norm = p; break;
      case Part::FfnNorm: w->layers[s.layer].ffn_norm = p; break;
      case Part::FinalNorm: w->final_norm = p; break;
      case Part::Linear: {
        int rows, cols;
        linear_shape(c, s.kind, rows, cols);
        w->layers.at(size_t(s.layer)).linear[int(s.kind)] = {p, rows, cols};
        break;
      }
      case Part::FreqReal:
      case Part::FreqImag: break;  // RoPE tables: the engine computes its own
      case Part::Classifier: w->output = {p, c.vocab_size, c.dim}; break;
    }
  }
  if (h.shared) w->output = {w->tok_embeddings, c.vocab_size, c.dim};
  if (linears == LinearLoading::PerBlock) {
    // Hand the linear views to the source and keep only their shapes, so that neither the
    // check below nor anything else touches (and makes resident) the blocks' pages now.
    w->linear_source = std::make_shared<MappedLinearSource>(file, w->layers);
    for (LayerWeights& L : w->layers)
      for (MatrixView& m : L.linear) m.data = nullptr;
  }
  check_loaded_weights(*w);
  return w;
}

void write_llama2c(const ModelWeights& w, const std::string& path, Llama2cFormat format) {
  const ModelConfig& c = w.config;
  const std::string target = path + " (llama2.c)";
  w.validate();
  io_detail::require_fp32_data(w, target);
  auto cannot = [&](const std::string& what) {
    fail("{}: the llama2.c format cannot represent {} of model '{}'", target, what, w.source);
  };
  if (c.qkv_bias) cannot("q/k/v biases");
  if (c.rope_scaling.type != "none") cannot("rope_scaling '" + c.rope_scaling.type + "'");
  if (c.rope_theta != 10000.0f) cannot(fmt::format("rope_theta {} (the format implies 10000)", c.rope_theta));
  if (c.norm_eps != 1e-5f) cannot(fmt::format("norm eps {} (the format implies 1e-5)", c.norm_eps));
  if (c.head_dim * c.n_heads != c.dim) cannot(fmt::format("head_dim {} != dim / n_heads", c.head_dim));
  if (c.bos_id != 1 || c.eos_id != 2) cannot(fmt::format("bos/eos ids {}/{} (the format implies 1/2)", c.bos_id, c.eos_id));

  const bool shared = c.tie_embeddings;
  std::string out;  // the header
  auto put_i32 = [&](int32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); };
  if (format == Llama2cFormat::V1) {
    put_i32(int32_t(kLlama2cMagic));
    put_i32(1);
  }
  put_i32(c.dim);
  put_i32(c.hidden_dim);
  put_i32(c.n_layers);
  put_i32(c.n_heads);
  put_i32(c.n_kv_heads);
  put_i32(format == Llama2cFormat::Legacy && !shared ? -c.vocab_size : c.vocab_size);
  put_i32(c.max_seq_len);
  if (format == Llama2cFormat::V1) {
    out.push_back(char(shared ? 1 : 0));
    out.resize(kLlama2cV1HeaderBytes, '\0');
  }

  // Header in memory, tensors streamed: a 7B model is 27 GB of fp32.
  io_detail::AtomicFileWriter file(path);
  file.write(out.data(), out.size());
  auto put_floats = [&](const float* p, uint64_t n) { file.write(p, n * sizeof(float)); };
  std::vector<float> tmp;
  for (const Segment& s : layout(c, format, shared)) {
    switch (s.part) {
      case Part::TokEmb: put_floats(w.tok_embeddings, s.floats); break;
      case Part::AttnNorm: put_floats(w.layers[s.layer].attn_norm, s.floats); break;
      case Part::FfnNorm: put_floats(w.layers[s.layer].ffn_norm, s.floats); break;
      case Part::FinalNorm: put_floats(w.final_norm, s.floats); break;
      case Part::Classifier: put_floats(w.output.data, s.floats); break;
      case Part::Linear: {
        const MatrixView& m = w.layers[s.layer].w(s.kind);
        const bool qk = s.kind == LinearKind::Q || s.kind == LinearKind::K;
        if (qk && c.rope_style == RopeStyle::HalfSplit) {
          // llama2.c rotates interleaved pairs: undo HF's row permutation.
          tmp.resize(size_t(m.numel()));
          permute_halfsplit_to_interleaved(m.data, tmp.data(), s.kind == LinearKind::Q ? c.n_heads : c.n_kv_heads,
                                           c.head_dim, m.cols);
          put_floats(tmp.data(), s.floats);
        } else {
          put_floats(m.data, s.floats);
        }
        break;
      }
      case Part::FreqReal:
      case Part::FreqImag: {
        // Same tables as llama2.c's precompute_freqs_cis: angle = t * theta^(-2i/head_dim).
        const int half = c.head_dim / 2;
        tmp.resize(size_t(s.floats));
        for (int t = 0; t < c.max_seq_len; ++t)
          for (int i = 0; i < half; ++i) {
            const double angle = t * std::pow(10000.0, -2.0 * i / c.head_dim);
            tmp[size_t(t) * half + i] = float(s.part == Part::FreqReal ? std::cos(angle) : std::sin(angle));
          }
        put_floats(tmp.data(), s.floats);
        break;
      }
    }
  }
  file.commit();
}

}  // namespace binq
