#include "tools/queue/transition.h"

#include <SQLiteCpp/Statement.h>

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ostream>
#include <set>

#include "common/log.h"
#include "tools/queue/event_rows.h"
#include "tools/queue/output.h"

namespace connector::queue_tool {
namespace {

// Rows moved per write transaction. Small enough that ingest's group commit
// waits at most a few milliseconds for the lock, large enough that moving a
// hundred thousand rows takes hundreds of commits, not thousands.
constexpr size_t kRowsPerTransaction = 500;

std::string JoinStates(const std::vector<std::string>& states, const std::string& last_word) {
  std::string text;
  for (size_t i = 0; i < states.size(); ++i) {
    if (i > 0) text += i + 1 == states.size() ? " " + last_word + " " : ", ";
    text += states[i];
  }
  return text;
}

bool Contains(const std::vector<std::string>& values, const std::string& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// Checks the selection arguments and narrows the filter to the states this
// transition moves from.
EventFilter ParseSelection(const Transition& transition, const ParsedArgs& args,
                           int64_t now_ms) {
  EventFilter filter = ParseFilter(args, now_ms, /*take_identifiers=*/true);
  for (const std::string& state : filter.states) {
    if (!Contains(transition.from_states, state)) {
      throw UsageError("invalid --state \"" + state + "\" for " + transition.command +
                       ", which moves only " + JoinStates(transition.from_states, "or") +
                       " events");
    }
  }
  if (!filter.HasConditions() && !args.Has("--all")) {
    throw UsageError(transition.command +
                     " needs event ids, a filter such as --event or --since, or --all");
  }
  if (filter.HasConditions() && args.Has("--all")) {
    throw UsageError("--all selects every " + JoinStates(transition.from_states, "and") +
                     " event; drop it or drop the ids and filters");
  }
  if (filter.states.empty()) filter.states = transition.from_states;
  return filter;
}

// Reports selected ids and uuids that exist but are in a state this
// transition does not move, or that do not exist, so the operator learns
// why the count is lower than the number of ids given.
void ReportUnmovable(Context& context, const Transition& transition, const EventFilter& filter,
                     const std::vector<EventRow>& rows) {
  if (!filter.HasIdentifiers()) return;
  std::set<int64_t> found_ids;
  std::set<std::string> found_uuids;
  for (const EventRow& row : rows) {
    found_ids.insert(row.id);
    found_uuids.insert(row.uuid);
  }

  EventFilter lookup;
  lookup.ids = filter.ids;
  lookup.uuids = filter.uuids;
  std::vector<EventRow> all = SelectEvents(*context.db, lookup, "received_at_ms");
  for (const EventRow& row : all) {
    if (found_ids.count(row.id) != 0) continue;
    *context.err << "event " << row.id << " is " << row.state << ", not "
                 << JoinStates(transition.from_states, "or") << "; left as it is\n";
  }
  for (int64_t id : filter.ids) {
    bool exists = std::any_of(all.begin(), all.end(), [id](const EventRow& r) { return r.id == id; });
    if (!exists) *context.err << "no event with id " << id << "\n";
  }
  for (const std::string& uuid : filter.uuids) {
    bool exists =
        std::any_of(all.begin(), all.end(), [&uuid](const EventRow& r) { return r.uuid == uuid; });
    if (!exists) *context.err << "no event with uuid " << EscapeText(uuid) << "\n";
  }
}

// Names the person running the command for the history row: $USER, else the
// account of the process's uid (cron jobs and root shells often lack $USER).
std::string OperatorName() {
  const char* user = std::getenv("USER");
  if (user != nullptr && *user != '\0') return user;
  if (const passwd* account = ::getpwuid(::geteuid()); account != nullptr) return account->pw_name;
  return "uid " + std::to_string(::geteuid());
}

// Moves the rows with `ids` that are still in a from-state, in one
// BEGIN IMMEDIATE transaction. Returns the ids it moved; a row that changed
// state since it was selected (a worker claimed it) is left alone.
std::vector<int64_t> MoveBatch(const Transition& transition, Context& context,
                               const std::vector<int64_t>& ids, const std::string& reason) {
  SQLite::Database& db = *context.db;
  int64_t now_ms = context.clock->NowMs();
  std::vector<int64_t> moved;

  db.exec("BEGIN IMMEDIATE");
  try {
    SQLite::Statement current(db, "SELECT state, attempts, reason FROM events WHERE id = ?");
    SQLite::Statement make_due(db,
                               "UPDATE events SET state = ?, attempts = 0, "
                               "next_attempt_at_ms = ?, lease_owner = NULL, "
                               "lease_expires_at_ms = NULL, updated_at_ms = ? WHERE id = ?");
    SQLite::Statement finish(db,
                             "UPDATE events SET state = ?, reason = ?, lease_owner = NULL, "
                             "lease_expires_at_ms = NULL, updated_at_ms = ? WHERE id = ?");
    SQLite::Statement record(db,
                             "INSERT INTO event_history (event_id, at_ms, action, detail) "
                             "VALUES (?, ?, ?, ?)");

    for (int64_t id : ids) {
      current.reset();
      current.bind(1, id);
      if (!current.executeStep()) continue;
      std::string state = current.getColumn(0).getString();
      if (!Contains(transition.from_states, state)) continue;
      int64_t attempts = current.getColumn(1).getInt64();
      std::string old_reason = current.getColumn(2).isNull() ? "" : current.getColumn(2).getString();

      // The history detail keeps what the update overwrites: the old state,
      // the attempt count and the old reason.
      std::string detail = "intercom-queue " + transition.command + " by " + OperatorName() +
                           "; was " + state;
      if (transition.make_due) {
        make_due.reset();
        make_due.bind(1, transition.to_state);
        make_due.bind(2, now_ms);
        make_due.bind(3, now_ms);
        make_due.bind(4, id);
        make_due.exec();
        detail += " after " + FormatCount(attempts, "counted attempt");
      } else {
        finish.reset();
        finish.bind(1, transition.to_state);
        finish.bind(2, reason);
        finish.bind(3, now_ms);
        finish.bind(4, id);
        finish.exec();
        detail += "; " + reason;
      }
      if (!old_reason.empty()) detail += "; previous reason: " + old_reason;

      record.reset();
      record.bind(1, id);
      record.bind(2, now_ms);
      record.bind(3, transition.history_action);
      record.bind(4, detail);
      record.exec();
      moved.push_back(id);
    }
    db.exec("COMMIT");
  } catch (...) {
    db.exec("ROLLBACK");
    throw;
  }
  return moved;
}

}  // namespace

std::vector<OptionSpec> TransitionOptions(const Transition& transition) {
  std::string time_meaning = transition.time_column == "updated_at_ms" ? "delivered" : "received";
  std::vector<OptionSpec> options = FilterOptions(time_meaning);
  if (transition.needs_reason) {
    options.push_back({"--reason", "TEXT", "why, stored in the event's reason and history"});
  }
  options.push_back({"--all", "", "every " + JoinStates(transition.from_states, "and") +
                                      " event, when no ids or filters are given"});
  options.push_back({"--dry-run", "", "list what would be " + transition.verb_past +
                                          " and change nothing"});
  options.push_back({"--json", "", "print the result as one JSON object"});
  return options;
}

CommandSpec TransitionCommand(const Transition& transition) {
  CommandSpec spec;
  spec.name = transition.command;
  spec.arguments = "[ID|UUID...]";
  if (transition.needs_reason) spec.arguments += " --reason TEXT";
  spec.options = TransitionOptions(transition);
  spec.takes_positionals = true;
  spec.run = [transition](Context& context, const ParsedArgs& args) {
    return RunTransition(transition, context, args);
  };
  return spec;
}

int RunTransition(const Transition& transition, Context& context, const ParsedArgs& args) {
  EventFilter filter = ParseSelection(transition, args, context.clock->NowMs());
  std::string reason;
  if (transition.needs_reason) {
    std::string text = args.Value("--reason");
    if (text.empty()) {
      throw UsageError("missing --reason for " + transition.command +
                       "; say why, for example --reason \"test account\"");
    }
    reason = transition.reason_prefix + text;
  }
  bool dry_run = args.Has("--dry-run");
  bool json = args.Has("--json");

  // Select with a plain read, then move in short write transactions. Each
  // transaction checks the state again, because a worker may have claimed a
  // pending row in between.
  std::vector<EventRow> rows = SelectEvents(*context.db, filter, transition.time_column);
  ReportUnmovable(context, transition, filter, rows);

  std::vector<int64_t> moved;
  if (!dry_run) {
    for (size_t start = 0; start < rows.size(); start += kRowsPerTransaction) {
      std::vector<int64_t> batch;
      for (size_t i = start; i < std::min(rows.size(), start + kRowsPerTransaction); ++i) {
        batch.push_back(rows[i].id);
      }
      std::vector<int64_t> done = MoveBatch(transition, context, batch, reason);
      moved.insert(moved.end(), done.begin(), done.end());
    }
    log::Info("operator_" + transition.command,
              {{"moved", static_cast<int64_t>(moved.size())},
               {"selected", static_cast<int64_t>(rows.size())},
               {"to_state", transition.to_state}});
  }

  if (json) {
    Poco::JSON::Object::Ptr result = NewJsonObject();
    result->set("command", transition.command);
    result->set("dry_run", dry_run);
    result->set("matched", static_cast<int64_t>(rows.size()));
    result->set("moved", static_cast<int64_t>(moved.size()));
    result->set("to_state", transition.to_state);
    Poco::JSON::Array::Ptr ids = new Poco::JSON::Array;
    if (dry_run) {
      for (const EventRow& row : rows) ids->add(row.id);
    } else {
      for (int64_t id : moved) ids->add(id);
    }
    result->set("ids", ids);
    PrintJson(*context.out, result);
  } else if (dry_run) {
    if (!rows.empty()) PrintEventTable(*context.out, rows, context.out_is_terminal);
    *context.out << "dry run: would have " << transition.verb_past << " "
                 << FormatCount(static_cast<int64_t>(rows.size()), "event") << " ("
                 << JoinStates(transition.from_states, "or") << " -> " << transition.to_state
                 << ")\n";
  } else {
    *context.out << transition.verb_past << " "
                 << FormatCount(static_cast<int64_t>(moved.size()), "event") << " ("
                 << JoinStates(transition.from_states, "or") << " -> " << transition.to_state
                 << ")\n";
    size_t not_moved = rows.size() - moved.size();
    if (not_moved == 1) {
      *context.out << "1 selected event changed state meanwhile and was left as it is\n";
    } else if (not_moved > 1) {
      *context.out << not_moved
                   << " selected events changed state meanwhile and were left as they are\n";
    }
  }

  if (rows.empty()) {
    *context.err << "no " << JoinStates(transition.from_states, "or")
                 << " events matched\n";
    return kExitNothing;
  }
  return !dry_run && moved.empty() ? kExitNothing : kExitDone;
}

}  // namespace connector::queue_tool
