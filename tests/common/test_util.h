// Helpers shared by the test executables.
#pragma once
#include <string>

namespace binq::test {

// Paths into the read-only shared folder ($BINQ_SHARED or <source>/../shared).
std::string stories_model();      // models/stories260K/stories260K.bin
std::string stories_tokenizer();  // models/stories260K/tok512.bin
std::string shared(const std::string& relative);

// A fresh empty directory under the build tree, removed when the process exits.
std::string temp_dir(const std::string& tag);

// Writes bytes to a file (test fixtures only; production code uses write_file_atomic).
void write_bytes(const std::string& path, const std::string& bytes);

}  // namespace binq::test
