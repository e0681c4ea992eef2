// LinearLoading::PerBlock (what `binq quantize` uses to bound its memory): the same tensors as a
// resident load, one block at a time, released again when the block is dropped.
#include <gtest/gtest.h>

#include <cstring>

#include "binq/core/mapped_file.h"
#include "binq/io/checkpoint.h"
#include "binq/io/llama2c.h"
#include "binq/io/safetensors_writer.h"
#include "common/test_util.h"
#include "io_fixtures.h"

namespace binq {
namespace {

struct Case {
  std::string name;
  std::function<std::string()> write;  // writes a checkpoint of random_weights(tiny), returns its path
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }  // test names, not bytes

std::shared_ptr<ModelWeights> tiny() { return test::random_weights(test::tiny_config(), 33); }

std::string write_hf(TensorDType dtype, bool sharded) {
  const std::string dir = test::temp_dir("per-block-hf");
  HfWriteOptions opt;
  opt.dtype = dtype;
  opt.max_shard_bytes = sharded ? 4096 : 0;
  write_hf_directory(*tiny(), dir, opt);
  return dir;
}

std::string write_l2c() {
  const std::string path = test::temp_dir("per-block-l2c") + "/model.bin";
  write_llama2c(*tiny(), path, Llama2cFormat::V1);
  return path;
}

class PerBlock : public ::testing::TestWithParam<Case> {};

TEST_P(PerBlock, SameTensorsOneBlockAtATime) {
  const std::string path = GetParam().write();
  auto resident = load_checkpoint(path);
  auto lazy = load_checkpoint(path, LinearLoading::PerBlock);
  ASSERT_TRUE(lazy->linear_source);
  EXPECT_FALSE(resident->linear_source);
  // Everything else is loaded as usual; the linears have their shapes but no data yet.
  auto materialized = std::make_shared<ModelWeights>(*lazy);
  for (int l = 0; l < lazy->config.n_layers; ++l) {
    for (int k = 0; k < kLinearKinds; ++k) {
      EXPECT_EQ(lazy->layers[l].linear[k].data, nullptr);
      EXPECT_EQ(lazy->layers[l].linear[k].rows, resident->layers[l].linear[k].rows);
      EXPECT_EQ(lazy->layers[l].linear[k].cols, resident->layers[l].linear[k].cols);
    }
    auto block = std::make_shared<BlockLinears>(block_linears(*lazy, l));
    for (int k = 0; k < kLinearKinds; ++k) materialized->layers[l].linear[k] = block->linear[k];
    materialized->keep_alive.push_back(block);
  }
  test::expect_weights_eq(*resident, *materialized);  // bit for bit, conversions included
}

TEST_P(PerBlock, ABlockIsReleasedWithItsBlockLinears) {
  auto lazy = load_checkpoint(GetParam().write(), LinearLoading::PerBlock);
  std::vector<std::weak_ptr<const void>> held;
  {
    BlockLinears b = block_linears(*lazy, 1);
    // One converted buffer or one page-dropping handle per linear at least.
    ASSERT_GE(b.keep_alive.size(), size_t(kLinearKinds));
    for (const auto& p : b.keep_alive) held.emplace_back(p);
  }
  size_t released = 0;
  for (const auto& w : held) released += w.expired();
  // Only a shared map (F32 in place) may outlive the block.
  EXPECT_GE(released, size_t(kLinearKinds));
}

TEST_P(PerBlock, ResidentWeightsGiveViewsWithoutCopies) {
  auto resident = load_checkpoint(GetParam().write());
  BlockLinears b = block_linears(*resident, 0);
  EXPECT_TRUE(b.keep_alive.empty());
  for (int k = 0; k < kLinearKinds; ++k) EXPECT_EQ(b.linear[k].data, resident->layers[0].linear[k].data);
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, PerBlock,
                         ::testing::Values(Case{"HfF32", [] { return write_hf(TensorDType::F32, false); }},
                                           Case{"HfF16", [] { return write_hf(TensorDType::F16, false); }},
                                           Case{"HfBF16Sharded", [] { return write_hf(TensorDType::BF16, true); }},
                                           Case{"Llama2c", write_l2c}),
                         [](const auto& info) { return info.param.name; });

TEST(PerBlockErrors, NonFiniteLinearIsNamedWhenItsBlockIsLoaded) {
  auto w = tiny();
  const_cast<float*>(w->layers[1].linear[int(LinearKind::V)].data)[3] = std::numeric_limits<float>::infinity();
  const std::string path = test::temp_dir("per-block-nan") + "/model.bin";
  write_llama2c(*w, path, Llama2cFormat::V1);
  EXPECT_BINQ_ERROR(load_checkpoint(path), "layers.1.v_proj");
  auto lazy = load_checkpoint(path, LinearLoading::PerBlock);  // the block is not read yet
  EXPECT_NO_THROW(block_linears(*lazy, 0));
  EXPECT_BINQ_ERROR(block_linears(*lazy, 1), "layers.1.v_proj");
}

TEST(MappedFile, DroppedPagesReadBackUnchanged) {
  const std::string path = test::temp_dir("drop-pages") + "/bytes.bin";
  std::string bytes(3 * 4096 + 123, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = char(i * 7 + 3);
  test::write_bytes(path, bytes);
  auto f = MappedFile::open(path);
  ASSERT_EQ(std::memcmp(f->data(), bytes.data(), bytes.size()), 0);
  f->drop_pages(f->data() + 100, f->size() - 100);
  f->drop_pages(f->data(), 10);  // no whole page inside: nothing to do
  EXPECT_EQ(std::memcmp(f->data(), bytes.data(), bytes.size()), 0);
  EXPECT_TRUE(f->contains(f->data() + 5, f->size() - 5));
  EXPECT_FALSE(f->contains(f->data() + 5, f->size()));
  EXPECT_BINQ_ERROR(f->drop_pages(f->data() + 1, f->size()), "outside the map");
}

}  // namespace
}  // namespace binq
