#pragma once

#include <SQLiteCpp/Statement.h>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "tools/queue/command.h"

namespace connector::queue_tool {

// The selection of events a command works on, from its filter options and
// positional event ids or uuids. Every set field narrows it (AND).
struct EventFilter {
  std::vector<int64_t> ids;
  std::vector<std::string> uuids;
  std::vector<std::string> states;
  std::optional<std::string> event;
  std::optional<std::string> email;
  std::optional<std::string> distinct_id;
  std::optional<int64_t> since_ms;   // inclusive, Unix milliseconds
  std::optional<int64_t> until_ms;   // exclusive, Unix milliseconds
  int64_t limit = 0;                 // 0: no limit

  bool HasIdentifiers() const { return !ids.empty() || !uuids.empty(); }
  // True when anything other than the limit narrows the selection.
  bool HasConditions() const;
};

// The filter options (--state, --event, --email, --distinct-id, --since,
// --until, --limit). `time_meaning` completes the --since/--until help, such
// as "received" or "delivered".
std::vector<OptionSpec> FilterOptions(const std::string& time_meaning);

// Builds a filter from parsed options and, when `take_identifiers` is set,
// from positional ids (digits) and uuids (anything else). Throws UsageError
// naming an invalid state, time, limit, or an unexpected positional argument.
EventFilter ParseFilter(const ParsedArgs& args, int64_t now_ms, bool take_identifiers);

// Parses a point in time for --since/--until: a duration before now ("30m",
// "2d", as in the configuration file), "now", a date "2026-01-31" or a UTC
// time "2026-01-31T14:05[:09][Z]" (a space may replace the T). Returns Unix
// milliseconds. Throws UsageError naming `option` and the text.
int64_t ParseTimeArg(const std::string& option, const std::string& text, int64_t now_ms);

// A WHERE clause over `events` (no leading "WHERE"; "1" when empty) with the
// values to bind to its '?' placeholders in order.
struct SqlCondition {
  std::string sql;
  std::vector<std::variant<int64_t, std::string>> values;

  // Binds `values` to `statement`, starting at the first placeholder.
  // Returns the index of the next placeholder, for the caller's own values.
  int Bind(SQLite::Statement& statement) const;
};

// Translates `filter` into SQL. `time_column` is the events column that
// --since/--until compare with, such as "received_at_ms". The limit is not
// included, because callers place it after their ORDER BY.
SqlCondition BuildCondition(const EventFilter& filter, const std::string& time_column);

// The five values of events.state, in lifecycle order.
const std::vector<std::string>& AllStates();

}  // namespace connector::queue_tool
