// `intercom-queue check`: is the file sound, is its schema current, and how
// large is the WAL; then checkpoint it.

#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>

#include <filesystem>
#include <ostream>

#include "common/database.h"
#include "tools/queue/command.h"
#include "tools/queue/output.h"

namespace connector::queue_tool {
namespace {

int64_t WalBytes(const Context& context) {
  std::error_code error;
  auto size = std::filesystem::file_size(context.config.queue.path + "-wal", error);
  return error ? 0 : static_cast<int64_t>(size);
}

int RunCheck(Context& context, const ParsedArgs& args) {
  SQLite::Database& db = *context.db;
  bool truncate = args.Has("--truncate");
  bool read_only = sqlite3_db_readonly(db.getHandle(), "main") == 1;
  if (read_only && truncate) {
    *context.err << "check --truncate failed: queue database "
                 << EscapeText(context.config.queue.path)
                 << " is read-only for this user, and a checkpoint writes it; run it as the "
                    "user that owns the queue\n";
    return kExitFailed;
  }

  // integrity_check returns one row "ok", or up to 100 rows describing damage.
  std::vector<std::string> problems;
  SQLite::Statement integrity(db, "PRAGMA integrity_check");
  while (integrity.executeStep()) {
    std::string line = integrity.getColumn(0).getString();
    if (line != "ok") problems.push_back(line);
  }
  SQLite::Statement foreign_keys(db, "PRAGMA foreign_key_check");
  while (foreign_keys.executeStep()) {
    problems.push_back("row " + foreign_keys.getColumn(1).getString() + " of " +
                       foreign_keys.getColumn(0).getString() + " points to a missing " +
                       foreign_keys.getColumn(2).getString() + " row");
  }

  int version = SchemaVersion(db);
  int expected_version = LatestSchemaVersion();

  // PASSIVE copies what it can without waiting for readers or writers, so it
  // is safe while ingest and workers run. TRUNCATE waits (up to the busy
  // timeout) for them and then empties the WAL file. A checkpoint writes the
  // database file, so it is skipped when SQLite opened the file read-only
  // because this user cannot write it.
  int64_t wal_before = WalBytes(context);
  bool checkpoint_busy = false;
  int64_t wal_frames = 0;
  int64_t checkpointed_frames = 0;
  if (!read_only) {
    SQLite::Statement checkpoint(
        db, truncate ? "PRAGMA wal_checkpoint(TRUNCATE)" : "PRAGMA wal_checkpoint(PASSIVE)");
    checkpoint.executeStep();
    checkpoint_busy = checkpoint.getColumn(0).getInt() != 0;
    wal_frames = checkpoint.getColumn(1).getInt64();
    checkpointed_frames = checkpoint.getColumn(2).getInt64();
  }
  int64_t wal_after = WalBytes(context);
  std::string checkpoint_mode = truncate ? "truncate" : "passive";
  if (read_only) checkpoint_mode = "skipped";

  bool healthy = problems.empty() && version == expected_version;
  if (args.Has("--json")) {
    Poco::JSON::Object::Ptr result = NewJsonObject();
    result->set("ok", healthy);
    Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
    for (const std::string& problem : problems) list->add(problem);
    result->set("integrity_problems", list);
    result->set("schema_version", version);
    result->set("expected_schema_version", expected_version);
    result->set("checkpoint_mode", checkpoint_mode);
    result->set("checkpoint_busy", checkpoint_busy);
    result->set("wal_frames", wal_frames);
    result->set("checkpointed_frames", checkpointed_frames);
    result->set("wal_bytes_before", wal_before);
    result->set("wal_bytes_after", wal_after);
    PrintJson(*context.out, result);
  } else {
    std::ostream& out = *context.out;
    out << "integrity:       " << (problems.empty() ? "ok" : "DAMAGED") << "\n";
    for (const std::string& problem : problems) out << "  " << EscapeText(problem) << "\n";
    out << "schema version:  " << version;
    if (version != expected_version) {
      out << " (this binary expects " << expected_version << "; use the matching release)";
    }
    out << "\n";
    out << "wal:             " << FormatBytes(wal_before) << " before, " << FormatBytes(wal_after)
        << " after\n";
    if (read_only) {
      out << "checkpoint:      skipped: the database is read-only for this user\n";
    } else {
      out << "checkpoint:      " << checkpoint_mode << ", " << checkpointed_frames << " of "
          << FormatCount(wal_frames, "frame") << " copied"
          << (checkpoint_busy ? " (busy: another connection held the database)" : "") << "\n";
    }
  }

  if (!healthy) {
    *context.err << "check failed: "
                 << (problems.empty() ? "schema version mismatch" : "database damaged; restore "
                                                                    "from a backup or run "
                                                                    "sqlite3 .recover")
                 << "\n";
    return kExitFailed;
  }
  return kExitDone;
}

}  // namespace

CommandSpec CheckCommand() {
  CommandSpec spec;
  spec.name = "check";
  spec.summary = "Check integrity and schema version, report the WAL size, and checkpoint.";
  spec.description =
      "Runs PRAGMA integrity_check and foreign_key_check, compares the schema version with\n"
      "this binary's, and checkpoints the WAL (PASSIVE by default, which never waits).\n"
      "The checkpoint is skipped when this user can only read the database.\n"
      "Exits 3 when the database is damaged or its schema version differs.\n";
  spec.options = {
      {"--truncate", "", "checkpoint with TRUNCATE: wait for readers, then empty the WAL"},
      {"--json", "", "print the result as one JSON object"},
  };
  spec.run = RunCheck;
  return spec;
}

}  // namespace connector::queue_tool
