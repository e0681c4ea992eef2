// Fuzz-style robustness test of the checkpoint loaders. Each file type is mutated a few hundred
// times with a fixed-seed RNG (byte flips, truncations, lying header integers, JSON field
// deletions and type changes); every mutant must either load (and validate) or be refused with
// binq::Error. Any other exception fails the test; a crash or sanitizer report fails the run.
#include <gtest/gtest.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <typeinfo>

#include "binq/core/mapped_file.h"
#include "binq/io/checkpoint.h"
#include "binq/io/llama2c.h"
#include "binq/io/safetensors_writer.h"
#include "common/test_util.h"
#include "io_fixtures.h"

namespace binq {
namespace {

using nlohmann::json;
using Rng = std::mt19937;

constexpr int kMutantsPerType = 400;

int pick(Rng& rng, int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }

// ---- byte-level mutations ---------------------------------------------------------------------

// Flips 1-4 random bytes; half of them inside the first `hot` bytes, where the headers live.
std::string flip_bytes(std::string b, size_t hot, Rng& rng) {
  if (b.empty()) return b;
  const int n = 1 + pick(rng, 4);
  for (int i = 0; i < n; ++i) {
    const size_t range = pick(rng, 2) ? std::min(hot, b.size()) : b.size();
    b[size_t(pick(rng, int(range)))] ^= char(1 + pick(rng, 255));
  }
  return b;
}

std::string truncate(const std::string& b, Rng& rng) { return b.substr(0, size_t(pick(rng, int(b.size())))); }

std::string append_garbage(std::string b, Rng& rng) {
  const int n = 1 + pick(rng, 64);
  for (int i = 0; i < n; ++i) b.push_back(char(pick(rng, 256)));
  return b;
}

int64_t interesting_int(Rng& rng, int64_t original) {
  switch (pick(rng, 10)) {
    case 0: return 0;
    case 1: return -1;
    case 2: return INT_MAX;
    case 3: return INT_MIN;
    case 4: return original + 1;
    case 5: return original - 1;
    case 6: return original * 2;
    case 7: return int64_t(1) << (pick(rng, 62) + 1);
    case 8: return pick(rng, 1 << 20);
    default: return -int64_t(pick(rng, INT_MAX));
  }
}

// Overwrites the int32 at one of `offsets` with an interesting value.
std::string lie_i32(std::string b, const std::vector<size_t>& offsets, Rng& rng) {
  const size_t off = offsets[size_t(pick(rng, int(offsets.size())))];
  if (off + 4 > b.size()) return b;
  int32_t v;
  std::memcpy(&v, &b[off], 4);
  v = int32_t(interesting_int(rng, v));  // wraps: any 32-bit pattern is fair game
  std::memcpy(&b[off], &v, 4);
  return b;
}

// ---- JSON-level mutations ---------------------------------------------------------------------

void collect(const json& j, const json::json_pointer& p, std::vector<json::json_pointer>& out) {
  out.push_back(p);
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) collect(*it, p / it.key(), out);
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) collect(j[i], p / i, out);
  }
}

json random_value(Rng& rng, const json& original) {
  switch (pick(rng, 12)) {
    case 0: return nullptr;
    case 1: return bool(pick(rng, 2));
    case 2: return interesting_int(rng, original.is_number_integer() ? original.get<int64_t>() : 1);
    case 3: return uint64_t(-1);
    case 4: return 1e30;
    case 5: return -0.5;
    case 6: return "F64";
    case 7: return "";
    case 8: return json::array();
    case 9: return json::object();
    case 10: return json::array({pick(rng, 100), pick(rng, 100)});
    default: return original.is_number() ? json(original.get<double>() * 3 + 1) : json("x");
  }
}

// Deletes a random node or replaces it with a value of another (or the same) type.
json mutate_json(json j, Rng& rng) {
  std::vector<json::json_pointer> nodes;
  collect(j, json::json_pointer(), nodes);
  const json::json_pointer p = nodes[size_t(pick(rng, int(nodes.size())))];
  if (!p.empty() && pick(rng, 3) == 0) {
    json& parent = j[p.parent_pointer()];
    if (parent.is_object())
      parent.erase(p.back());
    else
      parent.erase(size_t(std::stoul(p.back())));
  } else {
    j[p] = random_value(rng, j[p]);
  }
  return j;
}

std::string mutate_json_text(const std::string& text, Rng& rng) {
  // Textual damage nearly always gives invalid JSON, so most mutants are structural instead.
  switch (pick(rng, 6)) {
    case 0: return flip_bytes(text, text.size(), rng);
    case 1: return truncate(text, rng);
    case 2: return mutate_json(mutate_json(json::parse(text), rng), rng).dump();
    default: return mutate_json(json::parse(text), rng).dump();
  }
}

// ---- the harness ------------------------------------------------------------------------------

struct Outcome {
  int loaded = 0, refused = 0;
};

// Writes each mutant with `write`, loads it with `load`; anything but success or binq::Error fails.
void fuzz(const std::string& what, const std::function<std::string(Rng&)>& mutant,
          const std::function<void(const std::string&)>& write, const std::function<std::shared_ptr<ModelWeights>()>& load,
          uint32_t seed) {
  Rng rng(seed);
  Outcome o;
  for (int i = 0; i < kMutantsPerType; ++i) {
    write(mutant(rng));
    try {
      auto w = load();
      w->validate();
      ++o.loaded;
    } catch (const binq::Error& e) {
      ++o.refused;
      if (std::getenv("BINQ_FUZZ_VERBOSE")) std::printf("%s mutant %d: %s\n", what.c_str(), i, e.what());
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << " mutant " << i << ": " << typeid(e).name() << ": " << e.what();
    } catch (...) {
      ADD_FAILURE() << what << " mutant " << i << ": unknown exception";
    }
  }
  // Both outcomes must occur, or the mutations are not exercising what they claim to.
  EXPECT_GT(o.loaded, 0) << what;
  EXPECT_GT(o.refused, kMutantsPerType / 4) << what;
  std::printf("%s: %d mutants loaded, %d refused\n", what.c_str(), o.loaded, o.refused);
}

TEST(Fuzz, Llama2cLegacy) {
  const std::string dir = test::temp_dir("fuzz-legacy"), path = dir + "/m.bin";
  write_llama2c(*test::random_weights(test::tiny_config(), 1), path, Llama2cFormat::Legacy);
  const std::string good = read_text_file(path);
  const std::vector<size_t> fields = {0, 4, 8, 12, 16, 20, 24};
  fuzz(
      "llama2.c legacy",
      [&](Rng& rng) {
        switch (pick(rng, 4)) {
          case 0: return flip_bytes(good, 28, rng);
          case 1: return truncate(good, rng);
          case 2: return append_garbage(good, rng);
          default: return lie_i32(lie_i32(good, fields, rng), fields, rng);
        }
      },
      [&](const std::string& b) { test::write_bytes(path, b); }, [&] { return load_llama2c(path); }, 101);
}

TEST(Fuzz, Llama2cV1) {
  const std::string dir = test::temp_dir("fuzz-v1"), path = dir + "/m.bin";
  write_llama2c(*test::random_weights(test::tiny_config(true), 2), path, Llama2cFormat::V1);
  const std::string good = read_text_file(path);
  const std::vector<size_t> fields = {0, 4, 8, 12, 16, 20, 24, 28, 32, 36};
  fuzz(
      "llama2.c v1",
      [&](Rng& rng) {
        switch (pick(rng, 4)) {
          case 0: return flip_bytes(good, 40, rng);
          case 1: return truncate(good, rng);
          case 2: return append_garbage(good, rng);
          default: return lie_i32(good, fields, rng);
        }
      },
      [&](const std::string& b) { test::write_bytes(path, b); }, [&] { return load_checkpoint(path); }, 102);
}

// Splits a safetensors file into (header JSON text, data section).
std::pair<std::string, std::string> split_safetensors(const std::string& bytes) {
  uint64_t len;
  std::memcpy(&len, bytes.data(), 8);
  return {bytes.substr(8, len), bytes.substr(8 + len)};
}

TEST(Fuzz, SafetensorsWithConfig) {
  const std::string dir = test::temp_dir("fuzz-st"), path = dir + "/model.safetensors";
  HfWriteOptions opt;
  opt.dtype = TensorDType::BF16;  // converted on load: exercises the owned-buffer path
  write_hf_directory(*test::random_weights(test::tiny_config(), 3), dir, opt);
  const std::string good = read_text_file(path);
  const auto [header, data] = split_safetensors(good);
  fuzz(
      "model.safetensors",
      [&](Rng& rng) -> std::string {
        switch (pick(rng, 6)) {
          case 0: return flip_bytes(good, 8 + header.size(), rng);
          case 1: return truncate(good, rng);
          case 2: {  // a lying header length
            std::string b = good;
            const uint64_t len = uint64_t(interesting_int(rng, int64_t(header.size())));
            std::memcpy(&b[0], &len, 8);
            return b;
          }
          default: {  // a structurally mutated header, re-framed with its true length (mostly)
            const std::string h = mutate_json(json::parse(header), rng).dump();
            const uint64_t len = pick(rng, 8) ? h.size() : h.size() + 1;
            return std::string(reinterpret_cast<const char*>(&len), 8) + h + data;
          }
        }
      },
      [&](const std::string& b) { test::write_bytes(path, b); }, [&] { return load_hf_directory(dir); }, 103);
}

TEST(Fuzz, ConfigJsonAlone) {
  const std::string dir = test::temp_dir("fuzz-cfg"), path = dir + "/config.json";
  ModelConfig c = test::tiny_config();
  c.rope_scaling.type = "llama3";  // so the rope_scaling object is there to be mutated
  c.rope_scaling.factor = 8;
  c.rope_scaling.original_max_position = 8;
  write_hf_directory(*test::random_weights(c, 4), dir);
  const std::string good = read_text_file(path);
  fuzz(
      "config.json", [&](Rng& rng) { return mutate_json_text(good, rng); },
      [&](const std::string& b) { test::write_bytes(path, b); }, [&] { return load_checkpoint(dir); }, 104);
}

TEST(Fuzz, ShardIndexJson) {
  const std::string dir = test::temp_dir("fuzz-index"), path = dir + "/model.safetensors.index.json";
  HfWriteOptions opt;
  opt.max_shard_bytes = 3000;
  write_hf_directory(*test::random_weights(test::tiny_config(), 5), dir, opt);
  const std::string good = read_text_file(path);
  fuzz(
      "model.safetensors.index.json", [&](Rng& rng) { return mutate_json_text(good, rng); },
      [&](const std::string& b) { test::write_bytes(path, b); }, [&] { return load_hf_directory(dir); }, 105);
}

}  // namespace
}  // namespace binq
