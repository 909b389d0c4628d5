#pragma once

#include <SQLiteCpp/Database.h>

#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/database.h"

namespace connector::queue_tool {

// Exit codes of intercom-queue, documented in its --help.
enum ExitCode : int {
  kExitDone = 0,         // the command ran and found or changed something
  kExitNothing = 1,      // nothing matched the selection
  kExitUsage = 2,        // invalid command line; the message names the argument
  kExitFailed = 3,       // the database or a file could not be read or written
};

// An invalid command line. The message names the argument and what is
// accepted; main prints it with the command's usage and exits kExitUsage.
class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// One option a command accepts, such as `--state STATE`.
struct OptionSpec {
  std::string name;        // with the leading dashes: "--state"
  std::string value_name;  // empty for a switch such as "--dry-run"
  std::string help;        // one line: what it sets, in what unit
  bool repeatable = false;
};

// A command line after parsing against a command's options: switch values
// are "", repeated options keep every value in order.
struct ParsedArgs {
  std::map<std::string, std::vector<std::string>> options;
  std::vector<std::string> positionals;

  bool Has(const std::string& name) const { return options.count(name) != 0; }
  // Returns the last value of `name`, or `fallback` when it was not given.
  std::string Value(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> Values(const std::string& name) const;
};

// The state every command runs with: the configuration, a connection that
// main opens before the command runs, a clock and the output streams.
// Single-threaded: one connection, one thread.
struct Context {
  Config config;
  std::unique_ptr<SQLite::Database> db;
  const Clock* clock = nullptr;
  std::ostream* out = nullptr;       // results: tables, JSON, summaries
  std::ostream* err = nullptr;       // warnings and progress
  bool out_is_terminal = false;      // align tables, otherwise tab-separated
  bool err_is_terminal = false;      // draw progress bars
};

struct CommandSpec {
  std::string name;
  std::string arguments;             // positional part of the usage line
  std::string summary;               // one line for the command list
  std::string description;           // paragraphs for `COMMAND --help`
  std::vector<OptionSpec> options;
  // False for a command that takes options only: ParseArgs then rejects any
  // other word.
  bool takes_positionals = false;
  // How main opens the queue: kReadOnly for commands that only read,
  // kExisting for those that change rows, kCreate only for import, the one
  // command that may create a queue where none exists.
  QueueOpenMode open_mode = QueueOpenMode::kExisting;
  std::function<int(Context&, const ParsedArgs&)> run;
};

// Returns every subcommand in the order --help lists them.
const std::vector<CommandSpec>& Commands();

// Parses `args` (the words after the subcommand name) against `spec`.
// Throws UsageError naming an unknown option, a missing value, or an
// argument given to a command that takes none.
ParsedArgs ParseArgs(const CommandSpec& spec, const std::vector<std::string>& args);

// Returns the usage line and option list of one command.
std::string CommandHelp(const CommandSpec& spec);

// The command specs, one per subcommand, defined next to their code.
CommandSpec StatsCommand();
CommandSpec ListCommand();
CommandSpec ShowCommand();
CommandSpec RetryCommand();
CommandSpec SkipCommand();
CommandSpec CancelCommand();
CommandSpec ReplayCommand();
CommandSpec PurgeCommand();
CommandSpec ImportCommand();
CommandSpec CheckCommand();

}  // namespace connector::queue_tool
