#include "binq/core/paths.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "binq/core/error.h"

namespace binq {

std::string shared_dir() {
  if (const char* env = std::getenv("BINQ_SHARED"); env && *env) return env;
  return BINQ_DEFAULT_SHARED_DIR;
}

std::string shared_path(const std::string& relative) {
  std::string p = shared_dir() + "/" + relative;
  if (!path_exists(p))
    fail("{}: not found (shared data folder is '{}'; set $BINQ_SHARED to change it)", p,
         shared_dir());
  return p;
}

bool path_exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

bool is_directory(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec);
}

void warn(const std::string& message) { std::cerr << "binq: warning: " << message << "\n"; }

}  // namespace binq
