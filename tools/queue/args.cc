#include <sstream>

#include "tools/queue/command.h"

namespace connector::queue_tool {

std::string ParsedArgs::Value(const std::string& name, const std::string& fallback) const {
  auto found = options.find(name);
  if (found == options.end() || found->second.empty()) return fallback;
  return found->second.back();
}

std::vector<std::string> ParsedArgs::Values(const std::string& name) const {
  auto found = options.find(name);
  return found == options.end() ? std::vector<std::string>{} : found->second;
}

namespace {

const OptionSpec* FindOption(const CommandSpec& spec, const std::string& name) {
  for (const OptionSpec& option : spec.options) {
    if (option.name == name) return &option;
  }
  return nullptr;
}

}  // namespace

ParsedArgs ParseArgs(const CommandSpec& spec, const std::vector<std::string>& args) {
  ParsedArgs parsed;
  bool options_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (options_ended || word.size() < 2 || word[0] != '-') {
      if (!spec.takes_positionals) {
        throw UsageError("unexpected argument \"" + word + "\"; " + spec.name +
                         " takes options only");
      }
      parsed.positionals.push_back(word);
      continue;
    }
    if (word == "--") {
      options_ended = true;
      continue;
    }

    // Split "--name=value"; a switch must not carry a value.
    size_t equals = word.find('=');
    std::string name = word.substr(0, equals);
    const OptionSpec* option = FindOption(spec, name);
    if (option == nullptr) {
      throw UsageError("unknown option " + name + " for `" + spec.name +
                       "`; see intercom-queue " + spec.name + " --help");
    }
    if (option->value_name.empty()) {
      if (equals != std::string::npos) {
        throw UsageError(name + " takes no value, but got \"" + word.substr(equals + 1) + "\"");
      }
      parsed.options[name].push_back("");
      continue;
    }

    std::string value;
    if (equals != std::string::npos) {
      value = word.substr(equals + 1);
    } else if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
      value = args[++i];
    } else if (i + 1 < args.size()) {
      // "--event --since 2h" most likely lost the event name; taking "--since"
      // as the name would silently match nothing.
      throw UsageError(name + " needs a value but is followed by the option " + args[i + 1] +
                       "; write " + name + "=VALUE for a value that starts with --");
    } else {
      throw UsageError(name + " needs a value: " + name + " " + option->value_name);
    }
    std::vector<std::string>& values = parsed.options[name];
    if (!values.empty() && !option->repeatable) {
      throw UsageError(name + " given more than once; give it once");
    }
    values.push_back(value);
  }
  return parsed;
}

std::string CommandHelp(const CommandSpec& spec) {
  std::ostringstream help;
  help << "usage: intercom-queue " << spec.name;
  if (!spec.options.empty()) help << " [options]";
  if (!spec.arguments.empty()) help << " " << spec.arguments;
  help << "\n\n" << spec.summary << "\n";
  if (!spec.description.empty()) help << "\n" << spec.description;
  if (!spec.options.empty()) help << "\noptions:\n";
  for (const OptionSpec& option : spec.options) {
    std::string left = option.name;
    if (!option.value_name.empty()) left += " " + option.value_name;
    help << "  " << left;
    help << std::string(left.size() < 22 ? 22 - left.size() : 1, ' ');
    help << option.help;
    if (option.repeatable) help << " (repeatable)";
    help << "\n";
  }
  return help.str();
}

const std::vector<CommandSpec>& Commands() {
  static const std::vector<CommandSpec> kCommands = {
      StatsCommand(),  ListCommand(),   ShowCommand(),  RetryCommand(),  SkipCommand(),
      CancelCommand(), ReplayCommand(), PurgeCommand(), ImportCommand(), CheckCommand()};
  return kCommands;
}

}  // namespace connector::queue_tool
