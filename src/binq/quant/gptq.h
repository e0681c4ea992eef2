// W(1+1) quantization of one linear layer with GPTQ error compensation (method.md §3).
//
// Every switch of the paper's ablation ladder (Table 5) is a field of BinaryQuantConfig, so each
// rung can be run on its own; ladder_config() builds the rungs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "binq/quant/binary_layer.h"
#include "binq/quant/clustering.h"
#include "binq/quant/compact_binary_linear.h"
#include "binq/quant/hessian.h"

namespace binq {

enum class ClusterMethod { EM, DP };
// Block: paper Algorithm 1 (quantize a whole block, push its error into later blocks).
// Column: block centres fixed, columns rounded one by one with GPTQ's intra-block feedback.
// None: plain rounding, no compensation at all.
enum class Compensation { None, Block, Column };

struct BinaryQuantConfig {
  int block_size = 128;          // B (method.md §3.3); the last block may be short
  int n_outliers = 128;          // K INT8 outlier channels (the last K after reordering)
  ClusterMethod cluster = ClusterMethod::EM;
  int em_iters = 20;
  bool hessian_weighted = true;  // distance weight 1/U_ii^2; off = plain unweighted distance
  bool bitmap = true;            // 2 element groups (4 centres); off = one group, s = 0
  // On: centres by clustering (nearest-centre rounding). Off: sign binarization per group,
  // alpha = mean|w - mean|, beta = mean (with bitmap: groups split by |w| threshold, BiLLM-like).
  bool min_distance = true;
  Compensation compensation = Compensation::Block;
  double percdamp = 0.01;        // H += percdamp * mean(diag H) * I
};

// Rungs of paper Table 5 (weight side; activation balancing is not a weight switch):
// 0 W1A4 GPTQ (sign binarization, no outliers), 1 + K INT8 outliers, 2 + minimum-distance
// (2-centre clustering), 3 + fine-grained group (bitmap, 4 centres), 4 + Hessian-weighted
// distance (= the full method). B and K are those of the full method.
BinaryQuantConfig ladder_config(int rung, int block_size, int n_outliers);
const char* ladder_name(int rung);
inline constexpr int kLadderRungs = 5;

std::string describe(const BinaryQuantConfig& cfg);
const char* compensation_name(Compensation c);

// Optional diagnostics of one layer's quantization.
struct QuantDebug {
  // [out x in] in PERMUTED column order: each weight as it was when rounded, i.e. after all
  // compensation it absorbed (dead channels are 0).
  std::vector<float> quantized_at;
  double proxy_loss = 0;   // GPTQ's sum (w - q)^2 / U_ii^2 over all rounded weights
};

// Quantizes W ([out x in] row-major, original column order) given its prepared Hessian
// (prepared in the PERMUTED order: prepare_hessian(permute_symmetric(H, perm), ...)).
// `perm` is shared by the linears reading the same activation; see order_by_hessian_diag.
BinaryLinearParams quantize_binary_linear(const float* W, int out, int in,
                                          const PreparedHessian& ph,
                                          const std::vector<int32_t>& perm,
                                          const BinaryQuantConfig& cfg, const char* name,
                                          QuantDebug* debug = nullptr);

// Convenience: H is the finalized, undamped, UNPERMUTED Hessian; perm empty = compute from H.
BinaryLinearParams quantize_binary_linear(const float* W, int out, int in,
                                          const std::vector<double>& H,
                                          std::vector<int32_t> perm,
                                          const BinaryQuantConfig& cfg, const char* name,
                                          QuantDebug* debug = nullptr);

// Per-row rule that turns one weight into a stored (s, q): built once per (row, block) from
// the block's weights, then applied to each weight (all at once or column by column).
struct RowBlockQuantizer {
  GroupParams g;            // FP16-exact stored parameters
  bool nearest = true;      // nearest of the decoded values (min-distance variants)
  bool use_bitmap = true;
  float split = 0;          // sign variants with bitmap: s = |w| > split
  float mid0 = 0, mid1 = 0; // sign variants: q = w >= mid_s (the group's beta)
  // Index 2 s + q of the stored value for w.
  int code(float w) const;
};

// Fits the rule to n weights (imp may be nullptr = unweighted).
RowBlockQuantizer fit_row_block(const float* w, const float* imp, int n,
                                const BinaryQuantConfig& cfg);

// Everything stored per weight: 1 + 1 bits per binary weight, 4 FP16 per (row, block), INT8
// outliers with one FP16 scale per row, and the shared int32 permutation counted in full here.
// Without any bitmap bit set, 1 bit per binary weight and 2 FP16 per (row, block) are counted.
double bits_per_weight(const BinaryLinearParams& p);
double bits_per_weight(const CompactBinaryLinear& p);  // the same count

// Symmetric INT8 scale for a row of outlier weights: FP16-rounded max|w| / 127 (0 if all 0).
float int8_row_scale(const float* w, int n);
int8_t int8_round(float w, float scale);

}  // namespace binq
