// Runs the built `binq` executable in a shell and captures its output (for end-to-end tests).
#pragma once
#include <string>

namespace binq::test {

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// `args` is appended to the path of the binq executable; quote arguments as for /bin/sh.
CommandResult run_binq(const std::string& args);

}  // namespace binq::test
