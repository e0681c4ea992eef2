// binq: W(1+1)A(1x4) quantization toolkit. Subcommands live in *_command.cpp files.
#include <algorithm>
#include <iostream>

#include "binq/core/error.h"
#include "cli/command.h"

namespace binq::cli {

std::vector<CommandEntry>& command_registry() {
  static std::vector<CommandEntry> registry;
  return registry;
}

Registrar::Registrar(std::string name, CommandSetup setup) {
  command_registry().push_back({std::move(name), std::move(setup)});
}

}  // namespace binq::cli

int main(int argc, char** argv) {
  CLI::App app{"binq: W(1+1)A(1x4) post-training quantization and bitwise inference for LLaMA models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "binq 0.1.0");
  auto& registry = binq::cli::command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  for (auto& entry : registry) entry.setup(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const binq::Error& e) {
    std::cerr << "binq: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "binq: internal error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
