#include "common/database.h"

#include <SQLiteCpp/Statement.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/migrations.h"

namespace connector {
namespace {

// Creates the file with owner-only permissions before SQLite opens it, because
// SQLite would create it with the process umask (often 0644), and the queue
// contains email addresses and project tokens.
void CreatePrivateFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw DatabaseError("cannot create queue database " + path + ": " + std::strerror(errno) +
                        "; check that the directory exists and is writable ([queue] path)");
  }
  ::close(fd);
}

void Migrate(SQLite::Database& db, const std::string& path) {
  const std::vector<Migration>& migrations = Migrations();
  db.exec("BEGIN IMMEDIATE");
  try {
    int version = SchemaVersion(db);
    if (version > LatestSchemaVersion()) {
      throw DatabaseError("queue database " + path + " has schema version " +
                          std::to_string(version) + ", newer than this binary's " +
                          std::to_string(LatestSchemaVersion()) + "; run a newer release");
    }
    for (const Migration& migration : migrations) {
      if (migration.version <= version) continue;
      try {
        db.exec(std::string(migration.sql));
      } catch (const SQLite::Exception& error) {
        throw DatabaseError("applying " + std::string(migration.name) + " to " + path +
                            " failed: " + error.what());
      }
      db.exec("PRAGMA user_version = " + std::to_string(migration.version));
    }
    db.exec("COMMIT");
  } catch (...) {
    db.exec("ROLLBACK");
    throw;
  }
}

}  // namespace

int LatestSchemaVersion() {
  const std::vector<Migration>& migrations = Migrations();
  return migrations.empty() ? 0 : migrations.back().version;
}

int SchemaVersion(SQLite::Database& db) {
  return db.execAndGet("PRAGMA user_version").getInt();
}

std::unique_ptr<SQLite::Database> OpenQueue(const QueueConfig& config) {
  if (::access(config.path.c_str(), F_OK) != 0) CreatePrivateFile(config.path);

  std::unique_ptr<SQLite::Database> db;
  try {
    db = std::make_unique<SQLite::Database>(config.path, SQLite::OPEN_READWRITE);
    db->setBusyTimeout(static_cast<int>(config.busy_timeout.count()));
    // journal_mode=WAL needs a moment of exclusive access the first time; the
    // busy timeout covers a second process doing the same.
    db->exec("PRAGMA journal_mode = WAL");
    db->exec(config.synchronous == Synchronous::kFull ? "PRAGMA synchronous = FULL"
                                                      : "PRAGMA synchronous = NORMAL");
    db->exec("PRAGMA foreign_keys = ON");
    // Truncate the WAL file back to 64 MiB after a checkpoint, so a burst does
    // not leave a large file behind.
    db->exec("PRAGMA journal_size_limit = 67108864");
  } catch (const SQLite::Exception& error) {
    throw DatabaseError("opening queue database " + config.path + " failed: " + error.what() +
                        " (SQLite code " + std::to_string(error.getExtendedErrorCode()) + ")");
  }
  try {
    Migrate(*db, config.path);
  } catch (const SQLite::Exception& error) {
    throw DatabaseError("migrating queue database " + config.path + " failed: " + error.what() +
                        " (SQLite code " + std::to_string(error.getExtendedErrorCode()) + ")");
  }
  return db;
}

}  // namespace connector
