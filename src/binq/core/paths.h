// Locations of the read-only shared data (models, datasets) that binq reads in place.
#pragma once
#include <string>

namespace binq {

// $BINQ_SHARED if set, else the folder configured at build time (<source>/../shared).
std::string shared_dir();

// shared_dir() + "/" + relative, failing with a clear message if it does not exist.
std::string shared_path(const std::string& relative);

bool path_exists(const std::string& path);
bool is_directory(const std::string& path);

}  // namespace binq
