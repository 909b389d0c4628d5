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

// Whether a failed system call can succeed later by itself, once space is
// freed or files are closed. ENOENT, ENOTDIR, EACCES, EPERM and EROFS need an
// operator.
bool IsTransientErrno(int error) {
  switch (error) {
    case ENOSPC:
    case EDQUOT:
    case EIO:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case EINTR:
    case EAGAIN:
      return true;
    default:
      return false;
  }
}

// Whether a SQLite error can go away by itself. `system_errno` is the errno
// of the failed system call, or 0 when unknown.
bool IsTransientSqliteError(int extended_code, int system_errno) {
  switch (extended_code & 0xff) {
    case SQLITE_FULL:      // the disk, a quota or PRAGMA max_page_count
    case SQLITE_IOERR:     // includes SQLITE_IOERR_SHMSIZE: no space for the -shm file
    case SQLITE_BUSY:      // a lock held past busy_timeout
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      return true;
    case SQLITE_CANTOPEN:
      // A -wal or -shm file could not be created or opened: a full directory
      // or too many open files pass, permission denied does not.
      return IsTransientErrno(system_errno);
    default:
      return false;
  }
}

// Returns what an operator can do about a permanent SQLite error, or "".
std::string PermanentErrorHint(int extended_code) {
  switch (extended_code & 0xff) {
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return "; check that the file and its directory exist and that this user can write "
             "both ([queue] path)";
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return "; the file is not a usable SQLite database: check [queue] path, or restore the "
             "file from a backup";
    default:
      return "";
  }
}

// Wraps SQLite's `error` from `operation` ("opening", "migrating") on the
// queue at `path`. `db` is the connection, or null when it did not open.
DatabaseError QueueError(const std::string& operation, const std::string& path,
                         const SQLite::Exception& error, const SQLite::Database* db) {
  int code = error.getExtendedErrorCode();
  // SQLite updates sqlite3_system_errno() only on SQLITE_IOERR and
  // SQLITE_CANTOPEN; after other errors it is a stale value.
  int system_errno = 0;
  if (db != nullptr && ((code & 0xff) == SQLITE_IOERR || (code & 0xff) == SQLITE_CANTOPEN)) {
    system_errno = sqlite3_system_errno(db->getHandle());
  }
  bool transient = IsTransientSqliteError(code, system_errno);
  std::string message = operation + " queue database " + path + " failed: " + error.what() +
                        " (SQLite code " + std::to_string(code);
  if (system_errno != 0) message += ", " + std::string(std::strerror(system_errno));
  message += ")";
  if (!transient) message += PermanentErrorHint(code);
  return DatabaseError(message, transient);
}

// Creates the file with owner-only permissions before SQLite opens it, because
// SQLite would create it with the process umask (often 0644), and the queue
// contains email addresses and project tokens.
void CreatePrivateFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    int error = errno;
    throw DatabaseError("cannot create queue database " + path + ": " + std::strerror(error) +
                            "; check that the directory exists and is writable ([queue] path)",
                        IsTransientErrno(error));
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
        throw QueueError("applying " + std::string(migration.name) + " to", path, error, &db);
      }
      db.exec("PRAGMA user_version = " + std::to_string(migration.version));
    }
    db.exec("COMMIT");
  } catch (...) {
    // After SQLITE_FULL, SQLITE_IOERR or SQLITE_NOMEM SQLite may have rolled
    // the transaction back already, and a second ROLLBACK would fail with
    // "no transaction is active" and hide the error that matters.
    if (sqlite3_get_autocommit(db.getHandle()) == 0) db.tryExec("ROLLBACK");
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
    throw QueueError("opening", config.path, error, db.get());
  }
  try {
    Migrate(*db, config.path);
  } catch (const SQLite::Exception& error) {
    throw QueueError("migrating", config.path, error, db.get());
  }
  return db;
}

}  // namespace connector
