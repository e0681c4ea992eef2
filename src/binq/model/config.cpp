#include "binq/model/config.h"

#include <fmt/format.h>

#include "binq/core/error.h"

namespace binq {

void ModelConfig::validate(const std::string& source) const {
  auto positive = [&](const char* name, long v, long limit) {
    if (v <= 0 || v > limit) fail("{}: config field '{}' = {} is out of range (1..{})", source, name, v, limit);
  };
  positive("dim", dim, 1 << 16);
  positive("hidden_dim", hidden_dim, 1 << 18);
  positive("n_layers", n_layers, 1024);
  positive("n_heads", n_heads, 1024);
  positive("n_kv_heads", n_kv_heads, 1024);
  positive("head_dim", head_dim, 1 << 12);
  positive("vocab_size", vocab_size, 1 << 22);
  positive("max_seq_len", max_seq_len, 1 << 24);
  if (n_heads % n_kv_heads != 0)
    fail("{}: n_heads ({}) must be a multiple of n_kv_heads ({})", source, n_heads, n_kv_heads);
  if (head_dim % 2 != 0) fail("{}: head_dim ({}) must be even for RoPE", source, head_dim);
  if (!(rope_theta > 0)) fail("{}: rope_theta ({}) must be positive", source, rope_theta);
  if (!(norm_eps > 0 && norm_eps < 1)) fail("{}: norm eps ({}) must be in (0, 1)", source, norm_eps);
  if (bos_id >= vocab_size || eos_id >= vocab_size)
    fail("{}: bos/eos ids ({}/{}) outside the vocabulary of {}", source, bos_id, eos_id, vocab_size);
}

std::string ModelConfig::summary() const {
  return fmt::format(
      "{}: dim {}, hidden {}, layers {}, heads {}/{} (head_dim {}), vocab {}, ctx {}, rope {} theta {}{}",
      arch, dim, hidden_dim, n_layers, n_heads, n_kv_heads, head_dim, vocab_size, max_seq_len,
      rope_style == RopeStyle::Interleaved ? "interleaved" : "half-split", rope_theta,
      tie_embeddings ? ", tied embeddings" : "");
}

}  // namespace binq
