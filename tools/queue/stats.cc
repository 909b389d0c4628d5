// `intercom-queue stats`: how much is queued, how old the backlog is, how
// deliveries went recently, and how large the files are.

#include <SQLiteCpp/Statement.h>

#include <filesystem>
#include <map>
#include <ostream>

#include "tools/queue/command.h"
#include "tools/queue/output.h"
#include "tools/queue/selection.h"

namespace connector::queue_tool {
namespace {

// Attempt outcomes over one window before now.
struct AttemptCounts {
  int64_t delivered = 0;
  int64_t failed = 0;       // outcome "failed": the event gave up
  int64_t retried = 0;      // retry, rate_limited, contact_missing or paused
};

AttemptCounts CountAttempts(SQLite::Database& db, int64_t since_ms) {
  SQLite::Statement query(db,
                          "SELECT outcome, count(*) FROM delivery_attempts "
                          "WHERE started_at_ms >= ? GROUP BY outcome");
  query.bind(1, since_ms);
  AttemptCounts counts;
  while (query.executeStep()) {
    std::string outcome = query.getColumn(0).getString();
    int64_t count = query.getColumn(1).getInt64();
    if (outcome == "delivered") {
      counts.delivered += count;
    } else if (outcome == "failed") {
      counts.failed += count;
    } else {
      counts.retried += count;
    }
  }
  return counts;
}

// Returns the size of `path` in bytes, or 0 when it does not exist (a WAL
// file is absent after a clean shutdown).
int64_t FileSize(const std::string& path) {
  std::error_code error;
  auto size = std::filesystem::file_size(path, error);
  return error ? 0 : static_cast<int64_t>(size);
}

Poco::JSON::Object::Ptr AttemptsJson(const AttemptCounts& counts) {
  Poco::JSON::Object::Ptr object = NewJsonObject();
  object->set("delivered", counts.delivered);
  object->set("failed", counts.failed);
  object->set("retried", counts.retried);
  return object;
}

int RunStats(Context& context, const ParsedArgs& args) {
  SQLite::Database& db = *context.db;
  int64_t now_ms = context.clock->NowMs();

  // Counts by state, every state listed even at zero.
  std::map<std::string, int64_t> by_state;
  for (const std::string& state : AllStates()) by_state[state] = 0;
  SQLite::Statement states(db, "SELECT state, count(*) FROM events GROUP BY state");
  while (states.executeStep()) {
    by_state[states.getColumn(0).getString()] = states.getColumn(1).getInt64();
  }

  // The oldest pending event by arrival, and the earliest due time.
  SQLite::Statement pending(db,
                            "SELECT min(received_at_ms), min(next_attempt_at_ms) FROM events "
                            "WHERE state = 'pending'");
  pending.executeStep();
  bool has_pending = !pending.getColumn(0).isNull();
  int64_t oldest_pending_age_ms = has_pending ? now_ms - pending.getColumn(0).getInt64() : 0;
  int64_t next_due_ms = has_pending ? pending.getColumn(1).getInt64() : 0;

  AttemptCounts last_minute = CountAttempts(db, now_ms - 60'000);
  AttemptCounts last_hour = CountAttempts(db, now_ms - 3'600'000);
  int64_t db_bytes = FileSize(context.config.queue.path);
  int64_t wal_bytes = FileSize(context.config.queue.path + "-wal");

  if (args.Has("--json")) {
    Poco::JSON::Object::Ptr json = NewJsonObject();
    Poco::JSON::Object::Ptr counts = NewJsonObject();
    int64_t total = 0;
    for (const std::string& state : AllStates()) {
      counts->set(state, by_state[state]);
      total += by_state[state];
    }
    json->set("events", total);
    json->set("states", counts);
    json->set("oldest_pending_age_ms", has_pending ? Poco::Dynamic::Var(oldest_pending_age_ms)
                                                   : Poco::Dynamic::Var());
    json->set("next_due_at_ms", has_pending ? Poco::Dynamic::Var(next_due_ms)
                                            : Poco::Dynamic::Var());
    json->set("attempts_last_minute", AttemptsJson(last_minute));
    json->set("attempts_last_hour", AttemptsJson(last_hour));
    json->set("database_bytes", db_bytes);
    json->set("wal_bytes", wal_bytes);
    PrintJson(*context.out, json);
    return kExitDone;
  }

  std::ostream& out = *context.out;
  Table table({"state", "events"});
  for (const std::string& state : AllStates()) {
    table.AddRow({state, std::to_string(by_state[state])});
  }
  table.Print(out, context.out_is_terminal);
  out << "\n";
  out << "oldest pending:  "
      << (has_pending ? FormatAge(oldest_pending_age_ms) + " old, received " +
                            FormatTimeMs(now_ms - oldest_pending_age_ms) + " UTC"
                      : std::string("none"))
      << "\n";
  if (has_pending) out << "next due:        " << FormatTimeMs(next_due_ms) << " UTC\n";
  out << "last minute:     " << last_minute.delivered << " delivered, " << last_minute.failed
      << " failed, " << last_minute.retried << " to retry\n";
  out << "last hour:       " << last_hour.delivered << " delivered, " << last_hour.failed
      << " failed, " << last_hour.retried << " to retry\n";
  out << "database:        " << FormatBytes(db_bytes) << " ("
      << EscapeText(context.config.queue.path) << ")\n";
  out << "wal:             " << FormatBytes(wal_bytes) << "\n";
  return kExitDone;
}

}  // namespace

CommandSpec StatsCommand() {
  CommandSpec spec;
  spec.name = "stats";
  spec.summary = "Show event counts by state, backlog age, recent delivery results and file sizes.";
  spec.description =
      "Counts every state, including those at zero. \"oldest pending\" is the time since the\n"
      "oldest pending event was received (a retried event keeps its first arrival time).\n"
      "\"last minute\" and \"last hour\" count delivery attempts by outcome: delivered,\n"
      "failed (the event gave up), and to retry (retry, rate_limited, contact_missing or\n"
      "paused).\n";
  spec.options = {{"--json", "", "print one JSON object"}};
  spec.open_mode = QueueOpenMode::kReadOnly;
  spec.run = RunStats;
  return spec;
}

}  // namespace connector::queue_tool
