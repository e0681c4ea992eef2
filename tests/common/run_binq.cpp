#include "common/run_binq.h"

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/test_util.h"

namespace binq::test {

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

CommandResult run_binq(const std::string& args) {
  const std::string dir = temp_dir("run");
  const std::string cmd = std::string(BINQ_BINARY_DIR) + "/binq " + args + " >" + dir + "/out 2>" + dir + "/err";
  int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(dir + "/out");
  r.err = slurp(dir + "/err");
  return r;
}

}  // namespace binq::test
