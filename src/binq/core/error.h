// Errors that reach the user. Every message names the file / tensor / flag at fault and what was
// expected; callers catch binq::Error at the command boundary and print it.
#pragma once
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace binq {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

// Warnings go to stderr with a common prefix so scripts can grep them.
void warn(const std::string& message);

}  // namespace binq
