// `intercom-queue purge --older-than 30d`: delete finished events and their
// attempts and history.

#include <SQLiteCpp/Statement.h>

#include <ostream>

#include "common/log.h"
#include "tools/queue/command.h"
#include "tools/queue/output.h"
#include "tools/queue/selection.h"

namespace connector::queue_tool {
namespace {

// Rows deleted per write transaction; see kRowsPerTransaction in
// transition.cc for the trade-off.
constexpr int64_t kRowsPerDelete = 500;

int RunPurge(Context& context, const ParsedArgs& args) {
  if (!args.Has("--older-than")) {
    throw UsageError("missing --older-than; give an age such as --older-than 30d");
  }
  std::string age_text = args.Value("--older-than");
  std::optional<Milliseconds> age = ParseDuration(age_text);
  if (!age) {
    throw UsageError("invalid --older-than \"" + age_text +
                     "\"; expected a duration such as 12h, 30d or 90m");
  }

  // Finished rows only: pending and leased rows are still to be sent, and
  // failed rows wait for a decision unless the operator includes them.
  std::string states = args.Has("--include-failed") ? "'delivered', 'skipped', 'failed'"
                                                    : "'delivered', 'skipped'";
  int64_t cutoff_ms = context.clock->NowMs() - age->count();
  std::string where = "state IN (" + states + ") AND updated_at_ms < ?";
  SQLite::Database& db = *context.db;

  SQLite::Statement count(db, "SELECT count(*) FROM events WHERE " + where);
  count.bind(1, cutoff_ms);
  count.executeStep();
  int64_t matched = count.getColumn(0).getInt64();

  int64_t deleted = 0;
  if (!args.Has("--dry-run")) {
    // delivery_attempts and event_history rows go with their event through
    // ON DELETE CASCADE (OpenQueue turns foreign_keys on).
    SQLite::Statement remove(db, "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE " +
                                     where + " LIMIT " + std::to_string(kRowsPerDelete) + ")");
    while (true) {
      db.exec("BEGIN IMMEDIATE");
      int changed = 0;
      try {
        remove.reset();
        remove.bind(1, cutoff_ms);
        changed = remove.exec();
        db.exec("COMMIT");
      } catch (...) {
        db.exec("ROLLBACK");
        throw;
      }
      deleted += changed;
      if (changed < kRowsPerDelete) break;
    }
    log::Info("operator_purge", {{"deleted", deleted}, {"older_than", age_text}});
  }

  if (args.Has("--json")) {
    Poco::JSON::Object::Ptr result = NewJsonObject();
    result->set("command", "purge");
    result->set("dry_run", args.Has("--dry-run"));
    result->set("cutoff_ms", cutoff_ms);
    result->set("matched", matched);
    result->set("deleted", deleted);
    PrintJson(*context.out, result);
  } else if (args.Has("--dry-run")) {
    *context.out << "dry run: would have deleted " << FormatCount(matched, "event")
                 << " finished before "
                 << FormatTimeMs(cutoff_ms) << " UTC\n";
  } else {
    *context.out << "deleted " << FormatCount(deleted, "event") << " finished before "
                 << FormatTimeMs(cutoff_ms) << " UTC, with their attempts and history\n";
  }

  if (matched == 0 && deleted == 0) {
    *context.err << "no finished events older than " << age_text << "\n";
    return kExitNothing;
  }
  return kExitDone;
}

}  // namespace

CommandSpec PurgeCommand() {
  CommandSpec spec;
  spec.name = "purge";
  spec.arguments = "--older-than AGE";
  spec.summary = "Delete finished events older than AGE, with their attempts and history.";
  spec.description =
      "Deletes delivered and skipped events whose last change is older than AGE, and\n"
      "failed ones too with --include-failed. Pending and leased events are never\n"
      "deleted. Runs in short transactions of 500 rows, so ingest and workers keep going.\n";
  spec.options = {
      {"--older-than", "AGE", "minimum time since the event's last change: 12h, 30d, ..."},
      {"--include-failed", "", "also delete failed events (they are kept by default)"},
      {"--dry-run", "", "count what would be deleted and change nothing"},
      {"--json", "", "print the result as one JSON object"},
  };
  spec.run = RunPurge;
  return spec;
}

}  // namespace connector::queue_tool
