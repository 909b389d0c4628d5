#pragma once

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tools/queue/output.h"
#include "tools/queue/selection.h"

namespace connector::queue_tool {

// One `events` row without its payload, as list and the mutating commands'
// --dry-run show it. project_token is left out on purpose: listings are
// pasted into tickets and chats.
struct EventRow {
  int64_t id = 0;
  std::string uuid;
  std::string event;
  std::string distinct_id;
  std::optional<std::string> email;
  std::string state;
  int64_t attempts = 0;
  int64_t received_at_ms = 0;
  int64_t created_at = 0;            // Unix seconds
  int64_t next_attempt_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::optional<std::string> reason;
};

// Reads the rows that `filter` selects, ordered by id, honouring its limit.
// `time_column` is the column --since/--until compare with.
std::vector<EventRow> SelectEvents(SQLite::Database& db, const EventFilter& filter,
                                   const std::string& time_column);

// Writes `rows` as a table (aligned when `aligned`).
void PrintEventTable(std::ostream& out, const std::vector<EventRow>& rows, bool aligned);

Poco::JSON::Object::Ptr EventRowJson(const EventRow& row);

}  // namespace connector::queue_tool
