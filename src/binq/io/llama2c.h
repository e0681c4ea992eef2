// llama2.c checkpoint formats (Karpathy's export.py), read by load_llama2c (checkpoint.h) and
// written by write_llama2c.
//
// Legacy ("v0", export.py legacy_export): 7 x int32 header
//   dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
// (vocab_size < 0 means the classifier is not shared with the embedding), then fp32 tensors:
//   tok_embeddings [V,D]; rms_att [L,D]; wq [L,Dq,D]; wk [L,Dkv,D]; wv [L,Dkv,D]; wo [L,D,Dq];
//   rms_ffn [L,D]; w1 [L,H,D]; w2 [L,D,H]; w3 [L,H,D]; rms_final [D];
//   freq_cis_real [seq, hd/2]; freq_cis_imag [seq, hd/2]; wcls [V,D] if not shared.
// v1 (export.py version1_export): uint32 magic 0x616b3432 ("ak42"), int32 version = 1, the same
// 7 x int32 (vocab_size always positive), uint8 shared_classifier, zero padding to 256 bytes,
// then fp32 tensors:
//   rms_att [L,D]; rms_ffn [L,D]; rms_final [D]; tok_embeddings [V,D]; wq; wk; wv; wo; w1; w2;
//   w3 (shapes as above); wcls [V,D] if not shared. No freq_cis tables.
// w1 = gate_proj, w2 = down_proj, w3 = up_proj. RoPE pairs are interleaved; theta 10000 and
// RMSNorm eps 1e-5 are implied by the format. Version 2 (Q8_0) is recognised and refused.
#pragma once
#include <cstdint>
#include <string>

#include "binq/model/weights.h"

namespace binq {

enum class Llama2cFormat { Legacy, V1 };

inline constexpr uint32_t kLlama2cMagic = 0x616b3432;  // "ak42" as written by struct.pack('I')
inline constexpr uint64_t kLlama2cV1HeaderBytes = 256;

// Writes `weights` as a llama2.c checkpoint (atomically). Half-split (HF) q/k rows are permuted
// back to interleaved. Fails if the model uses something the format cannot express (biases,
// rope scaling, theta != 10000, eps != 1e-5, head_dim != dim / n_heads) or lacks FP32 weights.
void write_llama2c(const ModelWeights& weights, const std::string& path, Llama2cFormat format);

}  // namespace binq
