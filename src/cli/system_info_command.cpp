// binq system-info: the CPU, and which kernel ISA paths this process can run and why not
// (llama.cpp prints the same as "system_info"). Bug reports and benchmark figures name it.
#include <omp.h>

#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "binq/kernels/dispatch.h"
#include "cli/command.h"

namespace binq::cli {
namespace {

// "model name" and "cpu family" of the first CPU in /proc/cpuinfo ("" where there is none).
std::pair<std::string, std::string> cpu_identity() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model, family;
  auto value = [&] { return line.substr(line.find(':') + std::min<size_t>(2, line.size() - line.find(':'))); };
  while (std::getline(in, line) && (model.empty() || family.empty())) {
    if (line.rfind("model name", 0) == 0 && model.empty()) model = value();
    if (line.rfind("cpu family", 0) == 0 && family.empty()) family = value();
  }
  return {model, family};
}

void run(bool json) {
  const auto [model, family] = cpu_identity();
  nlohmann::json isas = nlohmann::json::array();
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    const std::string why = isa_unsupported_reason(isa);
    isas.push_back({{"isa", isa_name(isa)}, {"runs", why.empty()}, {"reason", why}});
  }
  const std::string active = isa_name(active_isa());
  if (json) {
    std::cout << nlohmann::json{{"cpu", model}, {"cpu_family", family}, {"threads", omp_get_max_threads()},
                                {"isas", isas}, {"active_isa", active}}
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << "cpu: " << (model.empty() ? "unknown" : model) << " (family " << (family.empty() ? "?" : family)
            << "), " << omp_get_max_threads() << " threads\n";
  for (const auto& e : isas)
    std::cout << "isa " << e["isa"].get<std::string>() << ": "
              << (e["runs"].get<bool>() ? "yes" : "no, " + e["reason"].get<std::string>()) << "\n";
  std::cout << "active isa: " << active << " (BINQ_ISA forces one, BINQ_ISA_MAX masks those above it)\n";
}

void setup(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("system-info", "the CPU and which kernel ISA paths run on it");
  cmd->add_flag("--json", *json, "print JSON");
  cmd->callback([json] { run(*json); });
}

Registrar reg("system-info", setup);

}  // namespace
}  // namespace binq::cli
