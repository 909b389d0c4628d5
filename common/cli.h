#pragma once

#include <string>
#include <vector>

#include "common/config.h"
#include "common/log.h"

namespace connector {

// The flags every binary takes, parsed from argv before the program's own.
struct CommonFlags {
  std::string config_path;             // empty: the embedded default configuration
  log::Level log_level = log::Level::kInfo;
  bool help = false;
  bool version = false;
  std::vector<std::string> rest;       // arguments this parser did not consume
};

// Consumes --config PATH (or --config=PATH), --log-level LEVEL, --help/-h and
// --version from argv. Throws std::invalid_argument naming the bad flag.
CommonFlags ParseCommonFlags(int argc, char** argv);

// Returns the help lines for the common flags, for each program's --help.
std::string CommonFlagsHelp();

// Loads the file named by --config, or the embedded default when none was
// given. Throws ConfigError.
Config LoadConfig(const CommonFlags& flags);

// The project's version, from CMakeLists.txt.
const char* Version();

}  // namespace connector
