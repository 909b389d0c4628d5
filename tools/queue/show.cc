// `intercom-queue show ID|UUID`: one event, its event_history entries and its
// delivery attempts.

#include <SQLiteCpp/Statement.h>

#include <ostream>

#include "common/json_parser.h"
#include "tools/queue/command.h"
#include "tools/queue/output.h"

namespace connector::queue_tool {
namespace {

Poco::Dynamic::Var ColumnValue(const SQLite::Column& column) {
  if (column.isNull()) return Poco::Dynamic::Var();
  if (column.isInteger()) return Poco::Dynamic::Var(column.getInt64());
  return Poco::Dynamic::Var(column.getString());
}

std::string ColumnText(const SQLite::Column& column) {
  return column.isNull() ? "" : column.getString();
}

// Ingest stores nothing deeper, so only a row written by hand can exceed it,
// and such a row is shown as text.
constexpr size_t kStoredJsonDepth = 64;

// Parses a stored JSON document, keeping its key order and exact numbers, so
// --json nests it instead of quoting it. Falls back to the raw text, because
// a row written by hand may contain anything.
Poco::Dynamic::Var ParseStoredJson(const std::string& text) {
  try {
    return ParseJsonExactNumbers(text, kStoredJsonDepth);
  } catch (const Poco::Exception&) {
    return Poco::Dynamic::Var(text);
  } catch (const JsonNumberOutOfRange&) {
    return Poco::Dynamic::Var(text);
  }
}

// Reads every row of `query` as JSON objects keyed by column name.
Poco::JSON::Array::Ptr RowsJson(SQLite::Statement& query) {
  Poco::JSON::Array::Ptr rows = new Poco::JSON::Array;
  while (query.executeStep()) {
    Poco::JSON::Object::Ptr row = NewJsonObject();
    for (int i = 0; i < query.getColumnCount(); ++i) {
      row->set(query.getColumnName(i), ColumnValue(query.getColumn(i)));
    }
    rows->add(row);
  }
  return rows;
}

constexpr const char* kEventColumns =
    "id, uuid, event, distinct_id, project_token, email, state, attempts, received_at_ms, "
    "created_at, next_attempt_at_ms, lease_owner, lease_expires_at_ms, updated_at_ms, reason, "
    "payload, person";

int RunShow(Context& context, const ParsedArgs& args) {
  if (args.positionals.size() != 1) {
    throw UsageError("show needs exactly one event id or uuid, got " +
                     std::to_string(args.positionals.size()));
  }
  SQLite::Database& db = *context.db;
  const std::string& key = args.positionals[0];

  // A key of digits is an id; uuids always contain letters or dashes.
  bool by_id = key.find_first_not_of("0123456789") == std::string::npos && key.size() <= 18;
  SQLite::Statement event(db, std::string("SELECT ") + kEventColumns + " FROM events WHERE " +
                                  (by_id ? "id = ?" : "uuid = ?"));
  if (by_id) {
    event.bind(1, static_cast<int64_t>(std::stoll(key)));
  } else {
    event.bind(1, key);
  }
  if (!event.executeStep()) {
    *context.err << "no event with " << (by_id ? "id " : "uuid ") << EscapeText(key) << "\n";
    return kExitNothing;
  }
  int64_t id = event.getColumn(0).getInt64();

  SQLite::Statement history(db,
                            "SELECT at_ms, action, detail FROM event_history "
                            "WHERE event_id = ? ORDER BY at_ms, id");
  history.bind(1, id);
  SQLite::Statement attempts(db,
                             "SELECT attempt, started_at_ms, duration_ms, outcome, http_status, "
                             "identifier, intercom_request_id, intercom_error_code, "
                             "intercom_error_message, error, notes FROM delivery_attempts "
                             "WHERE event_id = ? ORDER BY started_at_ms, id");
  attempts.bind(1, id);

  if (args.Has("--json")) {
    Poco::JSON::Object::Ptr json = NewJsonObject();
    for (int i = 0; i < event.getColumnCount(); ++i) {
      std::string name = event.getColumnName(i);
      bool is_document = name == "payload" || name == "person";
      json->set(name, is_document && !event.getColumn(i).isNull()
                          ? ParseStoredJson(event.getColumn(i).getString())
                          : ColumnValue(event.getColumn(i)));
    }
    json->set("history", RowsJson(history));
    json->set("attempts", RowsJson(attempts));
    PrintJson(*context.out, json);
    return kExitDone;
  }

  // The event's fields, one per line, times also in UTC text.
  std::ostream& out = *context.out;
  for (int i = 0; i < event.getColumnCount(); ++i) {
    std::string name = event.getColumnName(i);
    if (name == "payload" || name == "person") continue;
    const SQLite::Column column = event.getColumn(i);
    std::string value = ColumnText(column);
    if (name.size() > 3 && name.compare(name.size() - 3, 3, "_ms") == 0 && !column.isNull()) {
      value += " (" + FormatTimeMs(column.getInt64()) + " UTC)";
    } else if (name == "created_at") {
      value += " (" + FormatTimeMs(column.getInt64() * 1000) + " UTC)";
    }
    out << name << ":" << std::string(name.size() < 20 ? 20 - name.size() : 1, ' ')
        << EscapeText(value) << "\n";
  }

  // The worker records deliveries, retries and failures only in
  // delivery_attempts, so this section is named after its table. An empty
  // event_history does not mean that nothing happened to the event.
  out << "\nevent_history (filter skips, expired leases, intercom-queue commands):\n";
  Table history_table({"at (UTC)", "action", "detail"});
  while (history.executeStep()) {
    history_table.AddRow({FormatTimeMs(history.getColumn(0).getInt64()),
                          ColumnText(history.getColumn(1)), ColumnText(history.getColumn(2))});
  }
  if (history_table.RowCount() == 0) {
    out << "  none\n";
  } else {
    history_table.Print(out, context.out_is_terminal);
  }

  out << "\nattempts:\n";
  Table attempt_table({"#", "started (UTC)", "ms", "outcome", "http", "error code", "error",
                       "request id"});
  while (attempts.executeStep()) {
    std::string error = ColumnText(attempts.getColumn(8));
    if (error.empty()) error = ColumnText(attempts.getColumn(9));
    attempt_table.AddRow({ColumnText(attempts.getColumn(0)),
                          FormatTimeMs(attempts.getColumn(1).getInt64()),
                          ColumnText(attempts.getColumn(2)), ColumnText(attempts.getColumn(3)),
                          ColumnText(attempts.getColumn(4)), ColumnText(attempts.getColumn(7)),
                          error, ColumnText(attempts.getColumn(6))});
  }
  if (attempt_table.RowCount() == 0) {
    out << "  none\n";
  } else {
    attempt_table.Print(out, context.out_is_terminal);
  }

  out << "\npayload:\n";
  PrintJson(out, ParseStoredJson(event.getColumn("payload").getString()));
  if (!event.getColumn("person").isNull()) {
    out << "\nperson:\n";
    PrintJson(out, ParseStoredJson(event.getColumn("person").getString()));
  }
  return kExitDone;
}

}  // namespace

CommandSpec ShowCommand() {
  CommandSpec spec;
  spec.name = "show";
  spec.arguments = "ID|UUID";
  spec.summary = "Show one event with its event_history entries and delivery attempts.";
  spec.description = "Takes the event's id (digits) or its uuid. Exits 1 when no event has it.\n";
  spec.options = {{"--json", "", "print one JSON object with history and attempts arrays"}};
  spec.takes_positionals = true;
  spec.open_mode = QueueOpenMode::kReadOnly;
  spec.run = RunShow;
  return spec;
}

}  // namespace connector::queue_tool
