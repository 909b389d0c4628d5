#pragma once

#include <string>
#include <vector>

#include "tools/queue/command.h"

namespace connector::queue_tool {

// An operator move of events from some states to another, shared by retry,
// skip, cancel and replay.
struct Transition {
  std::string command;                   // "retry"
  std::string verb_past;                 // "retried", for the summary line
  std::vector<std::string> from_states;  // rows in other states are left alone
  std::string to_state;
  std::string history_action;            // event_history.action of each moved row
  // The column --since/--until compare with: "received_at_ms", or
  // "updated_at_ms" for the time a delivered row was delivered.
  std::string time_column;
  // True: the row becomes due now with a fresh retry schedule (attempts 0).
  // False: the row is finished and gets `reason`.
  bool make_due = false;
  bool needs_reason = false;             // --reason is required
  std::string reason_prefix;             // "skipped by operator: "
};

// Options every transition command takes: the filters, --all, --dry-run,
// --json, and --reason when the transition needs one.
std::vector<OptionSpec> TransitionOptions(const Transition& transition);

// Returns the command that runs `transition`: its name, usage arguments,
// TransitionOptions() and RunTransition(). The caller adds the summary and
// the description.
CommandSpec TransitionCommand(const Transition& transition);

// Selects events from the arguments and moves them, in short BEGIN IMMEDIATE
// transactions so ingest and workers keep running. Each moved row keeps its
// created_at and its delivery_attempts, and gets one event_history row.
// Returns kExitNothing when no event was selected.
int RunTransition(const Transition& transition, Context& context, const ParsedArgs& args);

}  // namespace connector::queue_tool
