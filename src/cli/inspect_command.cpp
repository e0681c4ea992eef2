// binq inspect: what a .binq file holds and where its bytes go (paper Table 6 style), every byte
// of the file counted: signs, bitmaps, per-block parameters, outliers, permutations, FP parts.
#include <cstdio>
#include <iostream>
#include <map>

#include "binq/core/error.h"
#include "binq/quant/binq_file.h"
#include "cli/command.h"

namespace binq::cli {
namespace {

std::string category(const std::string& name) {
  auto ends = [&](const char* s) {
    std::string suf = s;
    return name.size() >= suf.size() && name.compare(name.size() - suf.size(), suf.size(), suf) == 0;
  };
  if (ends(".sign")) return "sign bits";
  if (ends(".bitmap")) return "bitmap bits";
  if (ends(".params")) return "block params (FP16 lo0,d0,lo1,d1)";
  if (ends(".outlier_w") || ends(".outlier_scale")) return "INT8 outliers + FP16 scales";
  if (ends(".perm")) return "permutations (int32)";
  if (ends(".weight")) return "dense weights (baseline, FP16)";
  if (name == "tokenizer") return "tokenizer (embedded)";
  return "FP16 embeddings, norms, head";
}

void run(const std::string& path, bool json) {
  BinqReader r(path);
  const auto& h = r.header();
  std::map<std::string, uint64_t> bytes;
  uint64_t blob_total = 0;
  for (auto& [name, info] : r.blobs()) {
    bytes[category(name)] += info.bytes;
    blob_total += info.bytes;
  }
  const uint64_t overhead = r.file_size() - blob_total;  // prefix, JSON header, alignment padding
  int64_t linear_weights = 0;
  for (auto& e : h.at("linears")) linear_weights += e.at("out").get<int64_t>() * e.at("in").get<int64_t>();
  const auto& m = h.at("model");
  const int64_t vocab = m.at("vocab_size"), dim = m.at("dim"), layers = m.at("n_layers");
  const int64_t fp_params = vocab * dim * (m.at("tie_embeddings").get<bool>() ? 1 : 2) + dim * (2 * layers + 1);
  const int64_t all_params = linear_weights + fp_params;
  uint64_t linear_bytes = 0;
  for (auto& [cat, b] : bytes)
    if (cat != "FP16 embeddings, norms, head" && cat != "tokenizer (embedded)") linear_bytes += b;

  if (json) {
    nlohmann::json j = {{"file", path}, {"file_bytes", r.file_size()}, {"header_and_padding_bytes", overhead},
                        {"linear_weights", linear_weights}, {"all_params", all_params},
                        {"linear_bits_per_weight", 8.0 * linear_bytes / linear_weights},
                        {"model_bits_per_weight", 8.0 * r.file_size() / all_params},
                        {"fp16_equivalent_bytes", 2 * all_params}, {"quant", h.value("quant", nlohmann::json{})},
                        {"activations", h.value("activations", nlohmann::json{})}};
    for (auto& [cat, b] : bytes) j["bytes"][cat] = b;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("file: %s\nmodel: dim %lld, layers %lld, vocab %lld; %.3f M parameters (%.3f M in quantized linears)\n",
              path.c_str(), (long long)dim, (long long)layers, (long long)vocab, all_params / 1e6, linear_weights / 1e6);
  std::printf("quant: %s\nactivations: %s\n\n", h.value("quant", nlohmann::json{}).dump().c_str(),
              h.value("activations", nlohmann::json{}).dump().c_str());
  std::printf("| part | bytes | bits per linear weight |\n| --- | ---: | ---: |\n");
  for (auto& [cat, b] : bytes)
    std::printf("| %s | %llu | %.4f |\n", cat.c_str(), (unsigned long long)b, 8.0 * b / linear_weights);
  std::printf("| header + alignment | %llu | %.4f |\n", (unsigned long long)overhead, 8.0 * overhead / linear_weights);
  std::printf("| **total file** | **%llu** | |\n\n", (unsigned long long)r.file_size());
  std::printf("quantized linears: %.4f bits/weight (signs, bitmaps, params, outliers, permutations)\n",
              8.0 * linear_bytes / linear_weights);
  std::printf("whole model: %.4f bits/parameter; FP16 equivalent %.3f MB -> %.3f MB (%.2fx smaller)\n",
              8.0 * r.file_size() / all_params, 2.0 * all_params / 1e6, r.file_size() / 1e6,
              2.0 * all_params / r.file_size());
}

void setup(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("inspect", "size and bits-per-weight breakdown of a .binq file");
  cmd->add_option("file", *path, ".binq file")->required();
  cmd->add_flag("--json", *json, "print JSON");
  cmd->callback([path, json] {
    try {
      run(*path, *json);
    } catch (const nlohmann::json::exception& e) {
      fail("{}: malformed header: {}", *path, e.what());
    }
  });
}

Registrar reg("inspect", setup);

}  // namespace
}  // namespace binq::cli
