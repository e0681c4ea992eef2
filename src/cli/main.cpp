// binq: W(1+1)A(1x4) quantization toolkit. Subcommands live in *_command.cpp files.
#include <malloc.h>

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
  // Forward passes allocate their activation buffers per call; prefill's are MBs. glibc would
  // mmap and unmap each one (its threshold starts at 128 KiB), so every call pays page faults
  // again, and a fault is expensive in a VM. Serving them from the heap: 2-thread pp128 of the
  // TinyLlama-shaped .binq 94-96 -> 137-145 tok/s (binq bench -p 128 -n 0 -t 1,2; the same as
  // GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432). Freed heap memory above 64 MiB is
  // still given back.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
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
