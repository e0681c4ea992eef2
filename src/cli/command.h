// Subcommand registry: every src/cli/<name>_command.cpp registers itself with a static
// Registrar, so adding a subcommand never touches main.cpp.
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace binq::cli {

// Adds one subcommand (and its callback) to the application.
using CommandSetup = std::function<void(CLI::App& app)>;

struct Registrar {
  Registrar(std::string name, CommandSetup setup);
};

struct CommandEntry {
  std::string name;
  CommandSetup setup;
};
std::vector<CommandEntry>& command_registry();

// Sets OpenMP and OpenBLAS thread counts (0 = leave the default: all cores).
void set_threads(int threads);

}  // namespace binq::cli
