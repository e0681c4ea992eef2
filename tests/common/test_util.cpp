#include "common/test_util.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "binq/core/paths.h"

namespace binq::test {
namespace fs = std::filesystem;

std::string shared(const std::string& relative) { return shared_path(relative); }
std::string stories_model() { return shared("models/stories260K/stories260K.bin"); }
std::string stories_tokenizer() { return shared("models/stories260K/tok512.bin"); }

namespace {
struct TempDirs {
  std::vector<fs::path> dirs;
  ~TempDirs() {
    std::error_code ec;
    for (auto& d : dirs) fs::remove_all(d, ec);
  }
};
TempDirs& temp_dirs() {
  static TempDirs t;
  return t;
}
}  // namespace

std::string temp_dir(const std::string& tag) {
  static std::atomic<int> counter{0};
  fs::path p = fs::path(BINQ_BINARY_DIR) / "test-tmp" /
               (tag + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(p);
  fs::create_directories(p);
  temp_dirs().dirs.push_back(p);
  return p.string();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace binq::test
