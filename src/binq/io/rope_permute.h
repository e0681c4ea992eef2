// Row permutations between the two RoPE storage conventions of q/k projections.
// llama2.c / Meta checkpoints rotate interleaved pairs (2i, 2i+1) of each head; Hugging Face
// checkpoints rotate (i, i + head_dim/2) ("rotate_half"). HF's convert_llama_weights_to_hf.py
// reorders the rows of wq/wk per head so that the same model computes the same function:
// new row (j * head_dim/2 + i) = old row (2i + j), j in {0, 1}. Biases permute the same way
// (a bias is a matrix with one column).
#pragma once

namespace binq {

// src, dst: [n_heads * head_dim x cols] row-major; must not alias.
void permute_interleaved_to_halfsplit(const float* src, float* dst, int n_heads, int head_dim, int cols);
// The inverse: HF half-split storage back to interleaved storage.
void permute_halfsplit_to_interleaved(const float* src, float* dst, int n_heads, int head_dim, int cols);

}  // namespace binq
