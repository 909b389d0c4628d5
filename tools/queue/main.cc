// intercom-queue: inspect and repair the queue database while ingest and
// workers run. Each subcommand lives in its own file; this file parses the
// shared flags, opens the database and maps errors to exit codes.

#include <SQLiteCpp/Exception.h>
#include <sqlite3.h>
#include <unistd.h>

#include <iostream>
#include <optional>
#include <sstream>

#include "common/cli.h"
#include "common/database.h"
#include "common/log.h"
#include "tools/queue/command.h"
#include "tools/queue/output.h"

namespace connector::queue_tool {
namespace {

std::string GeneralHelp() {
  std::ostringstream help;
  help << "usage: intercom-queue [--config PATH] [--db PATH] COMMAND [options]\n\n"
          "Inspects and repairs the Intercom Connector queue. Safe to run while\n"
          "intercom-ingest and intercom-worker are running.\n\ncommands:\n";
  for (const CommandSpec& spec : Commands()) {
    help << "  " << spec.name << std::string(10 - spec.name.size(), ' ') << spec.summary << "\n";
  }
  help << "\noptions for every command:\n"
       << "  --db PATH          queue database file (default: [queue] path of the configuration)\n"
       << CommonFlagsHelp()
       << "\nexit codes: 0 done, 1 nothing matched, 2 invalid command line or configuration,\n"
          "3 the database or a file could not be read or written, the database is not a\n"
          "queue, a file to import has invalid events, or check found damage.\n"
          "Run `intercom-queue COMMAND --help` for a command's options.\n";
  return help.str();
}

// Removes `--db PATH` or `--db=PATH` from `words` and returns PATH, or
// nullopt when absent. Throws UsageError for an empty PATH, which would
// otherwise fall back to the configured queue unnoticed.
std::optional<std::string> TakeDatabaseFlag(std::vector<std::string>& words) {
  std::optional<std::string> path;
  for (size_t i = 0; i < words.size();) {
    if (words[i].rfind("--db=", 0) == 0) {
      path = words[i].substr(5);
      words.erase(words.begin() + static_cast<std::ptrdiff_t>(i));
    } else if (words[i] == "--db") {
      if (i + 1 >= words.size()) throw UsageError("--db needs a value: --db PATH");
      path = words[i + 1];
      words.erase(words.begin() + static_cast<std::ptrdiff_t>(i),
                  words.begin() + static_cast<std::ptrdiff_t>(i) + 2);
    } else {
      ++i;
    }
    if (path && path->empty()) throw UsageError("--db needs a file path, but got \"\"");
  }
  return path;
}

const CommandSpec* FindCommand(const std::string& name) {
  for (const CommandSpec& spec : Commands()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

int Usage(const std::string& message, const CommandSpec* spec) {
  std::cerr << "intercom-queue: " << EscapeText(message) << "\n";
  if (spec != nullptr) {
    std::cerr << "usage: intercom-queue " << spec->name << " [options]"
              << (spec->arguments.empty() ? "" : " " + spec->arguments)
              << "\nrun `intercom-queue " << spec->name << " --help` for the options\n";
  } else {
    std::cerr << "run `intercom-queue --help` for the commands\n";
  }
  return kExitUsage;
}

int Main(int argc, char** argv) {
  // Shared flags, the command name, then the command's own options.
  CommonFlags flags;
  std::optional<std::string> database_path;
  try {
    flags = ParseCommonFlags(argc, argv);
    database_path = TakeDatabaseFlag(flags.rest);
  } catch (const std::invalid_argument& error) {
    return Usage(error.what(), nullptr);
  }
  if (flags.version) {
    std::cout << "intercom-queue " << Version() << "\n";
    return kExitDone;
  }
  if (flags.rest.empty()) {
    if (flags.help) {
      std::cout << GeneralHelp();
      return kExitDone;
    }
    return Usage("missing command", nullptr);
  }
  const CommandSpec* spec = FindCommand(flags.rest[0]);
  if (spec == nullptr) {
    std::string names;
    for (const CommandSpec& command : Commands()) names += " " + command.name;
    return Usage("unknown command \"" + flags.rest[0] + "\"; expected one of:" + names, nullptr);
  }
  if (flags.help) {
    std::cout << CommandHelp(*spec);
    return kExitDone;
  }

  Context context;
  SystemClock clock;
  context.clock = &clock;
  context.out = &std::cout;
  context.err = &std::cerr;
  context.out_is_terminal = ::isatty(STDOUT_FILENO) == 1;
  context.err_is_terminal = ::isatty(STDERR_FILENO) == 1;

  try {
    ParsedArgs args =
        ParseArgs(*spec, std::vector<std::string>(flags.rest.begin() + 1, flags.rest.end()));
    log::Setup(flags.log_level);
    context.config = LoadConfig(flags);
    if (database_path) context.config.queue.path = *database_path;

    // Only import may create a queue, so a mistyped path is reported instead
    // of showing an empty queue. OpenQueue rejects an empty file the same way.
    const std::string& path = context.config.queue.path;
    if (spec->open_mode != QueueOpenMode::kCreate && ::access(path.c_str(), F_OK) != 0) {
      std::cerr << "intercom-queue: queue database " << EscapeText(path)
                << " not found; pass --db PATH or set [queue] path in --config\n";
      return kExitFailed;
    }
    context.db = OpenQueue(context.config.queue, spec->open_mode);
    return spec->run(context, args);
  } catch (const UsageError& error) {
    return Usage(error.what(), spec);
  } catch (const ConfigError& error) {
    std::cerr << "intercom-queue: " << EscapeText(error.what()) << "\n";
    return kExitUsage;
  } catch (const DatabaseError& error) {
    std::cerr << "intercom-queue: " << EscapeText(error.what()) << "\n";
    return kExitFailed;
  } catch (const SQLite::Exception& error) {
    std::cerr << "intercom-queue " << spec->name << " failed on "
              << EscapeText(context.config.queue.path) << ": " << EscapeText(error.what())
              << " (SQLite code " << error.getExtendedErrorCode() << ")";
    if (error.getErrorCode() == SQLITE_BUSY) {
      std::cerr << "; another process held the write lock past the busy timeout, run it again";
    }
    std::cerr << "\n";
    return kExitFailed;
  } catch (const std::exception& error) {
    std::cerr << "intercom-queue " << spec->name << " failed: " << EscapeText(error.what())
              << "\n";
    return kExitFailed;
  }
}

}  // namespace
}  // namespace connector::queue_tool

int main(int argc, char** argv) { return connector::queue_tool::Main(argc, argv); }
