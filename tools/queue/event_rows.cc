#include "tools/queue/event_rows.h"

#include <SQLiteCpp/Statement.h>

namespace connector::queue_tool {
namespace {

std::optional<std::string> OptionalText(const SQLite::Column& column) {
  if (column.isNull()) return std::nullopt;
  return column.getString();
}

Poco::Dynamic::Var JsonText(const std::optional<std::string>& text) {
  return text ? Poco::Dynamic::Var(*text) : Poco::Dynamic::Var();
}

}  // namespace

std::vector<EventRow> SelectEvents(SQLite::Database& db, const EventFilter& filter,
                                   const std::string& time_column) {
  SqlCondition condition = BuildCondition(filter, time_column);
  std::string sql =
      "SELECT id, uuid, event, distinct_id, email, state, attempts, received_at_ms, created_at, "
      "next_attempt_at_ms, updated_at_ms, reason FROM events WHERE " +
      condition.sql + " ORDER BY id";
  if (filter.limit > 0) sql += " LIMIT " + std::to_string(filter.limit);

  SQLite::Statement query(db, sql);
  condition.Bind(query);
  std::vector<EventRow> rows;
  while (query.executeStep()) {
    EventRow row;
    row.id = query.getColumn(0).getInt64();
    row.uuid = query.getColumn(1).getString();
    row.event = query.getColumn(2).getString();
    row.distinct_id = query.getColumn(3).getString();
    row.email = OptionalText(query.getColumn(4));
    row.state = query.getColumn(5).getString();
    row.attempts = query.getColumn(6).getInt64();
    row.received_at_ms = query.getColumn(7).getInt64();
    row.created_at = query.getColumn(8).getInt64();
    row.next_attempt_at_ms = query.getColumn(9).getInt64();
    row.updated_at_ms = query.getColumn(10).getInt64();
    row.reason = OptionalText(query.getColumn(11));
    rows.push_back(std::move(row));
  }
  return rows;
}

void PrintEventTable(std::ostream& out, const std::vector<EventRow>& rows, bool aligned) {
  Table table({"id", "state", "event", "distinct_id", "email", "received (UTC)", "attempts",
               "next attempt (UTC)", "reason"});
  for (const EventRow& row : rows) {
    // The next attempt time only means something while the row waits.
    std::string next_attempt = row.state == "pending" ? FormatTimeMs(row.next_attempt_at_ms) : "";
    table.AddRow({std::to_string(row.id), row.state, row.event, row.distinct_id,
                  row.email.value_or(""), FormatTimeMs(row.received_at_ms),
                  std::to_string(row.attempts), next_attempt, row.reason.value_or("")});
  }
  table.Print(out, aligned);
}

Poco::JSON::Object::Ptr EventRowJson(const EventRow& row) {
  Poco::JSON::Object::Ptr json = NewJsonObject();
  json->set("id", row.id);
  json->set("uuid", row.uuid);
  json->set("event", row.event);
  json->set("distinct_id", row.distinct_id);
  json->set("email", JsonText(row.email));
  json->set("state", row.state);
  json->set("attempts", row.attempts);
  json->set("received_at_ms", row.received_at_ms);
  json->set("created_at", row.created_at);
  json->set("next_attempt_at_ms", row.next_attempt_at_ms);
  json->set("updated_at_ms", row.updated_at_ms);
  json->set("reason", JsonText(row.reason));
  return json;
}

}  // namespace connector::queue_tool
