#include "common/cli.h"

#include <stdexcept>

namespace connector {
namespace {

// Returns the value of `--name VALUE` or `--name=VALUE` at argv[i], advancing
// i past it, or nullopt when argv[i] is another flag.
std::optional<std::string> TakeValue(const std::string& name, int argc, char** argv, int& i) {
  std::string argument = argv[i];
  if (argument.rfind(name + "=", 0) == 0) return argument.substr(name.size() + 1);
  if (argument != name) return std::nullopt;
  if (i + 1 >= argc) throw std::invalid_argument(name + " needs a value");
  return std::string(argv[++i]);
}

}  // namespace

CommonFlags ParseCommonFlags(int argc, char** argv) {
  CommonFlags flags;
  for (int i = 1; i < argc; ++i) {
    std::string argument = argv[i];
    if (argument == "--help" || argument == "-h") {
      flags.help = true;
    } else if (argument == "--version") {
      flags.version = true;
    } else if (auto path = TakeValue("--config", argc, argv, i)) {
      if (path->empty()) throw std::invalid_argument("--config needs a file path");
      flags.config_path = *path;
    } else if (auto level = TakeValue("--log-level", argc, argv, i)) {
      if (!log::ParseLevel(*level, flags.log_level)) {
        throw std::invalid_argument("invalid --log-level \"" + *level +
                                    "\"; expected debug, info, warn or error");
      }
    } else {
      flags.rest.push_back(argument);
    }
  }
  return flags;
}

std::string CommonFlagsHelp() {
  return "  --config PATH      TOML configuration file (default: the embedded defaults)\n"
         "  --log-level LEVEL  debug, info, warn or error (default: info)\n"
         "  --version          print the version and exit\n"
         "  -h, --help         print this help and exit\n";
}

Config LoadConfig(const CommonFlags& flags) {
  return flags.config_path.empty() ? DefaultConfig() : LoadConfigFile(flags.config_path);
}

const char* Version() { return CONNECTOR_VERSION; }

}  // namespace connector
