#include "common/database.h"

#include <SQLiteCpp/Statement.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <tuple>
#include <utility>

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
  if (extended_code == SQLITE_READONLY_DIRECTORY || extended_code == SQLITE_READONLY_CANTINIT) {
    // A connection to a WAL database needs the -wal and -shm files. SQLite
    // 3.40 creates them when the directory is writable; otherwise it opens
    // the database only while both exist.
    return "; SQLite must create the -wal and -shm files next to a WAL database, and this user "
           "cannot write the directory: give this user write access to it, or, for "
           "intercom-queue's read-only commands, run them while intercom-ingest or "
           "intercom-worker has the queue open, or on a copy of the file in a writable "
           "directory";
  }
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

// PRAGMA application_id of a queue, set by schema/003_application_id.sql.
constexpr int kQueueApplicationId = 0x49436F6E;  // "ICon"

// The first schema version that sets kQueueApplicationId.
constexpr int kApplicationIdVersion = 3;

// The schema version, header and contents of a file, read in one statement so
// all come from the same snapshot, even while another process applies the
// first migration.
struct SchemaState {
  int version = 0;          // PRAGMA user_version
  int application_id = 0;   // PRAGMA application_id
  bool has_objects = false; // any table, index, view or trigger
  bool has_events = false;  // the queue's `events` table
};

SchemaState ReadSchemaState(SQLite::Database& db) {
  SQLite::Statement query(db,
                          "SELECT (SELECT user_version FROM pragma_user_version), "
                          "(SELECT application_id FROM pragma_application_id), "
                          "EXISTS (SELECT 1 FROM sqlite_master), "
                          "EXISTS (SELECT 1 FROM sqlite_master "
                          "        WHERE type = 'table' AND name = 'events')");
  query.executeStep();
  return {query.getColumn(0).getInt(), query.getColumn(1).getInt(),
          query.getColumn(2).getInt() != 0, query.getColumn(3).getInt() != 0};
}

// Returns why a file is another application's database, or "" when it can be
// a queue. A queue's application_id is 0 before schema version
// kApplicationIdVersion and kQueueApplicationId from then on, and every
// migration sets user_version in the transaction that creates its tables.
std::string ForeignFileReason(const SchemaState& state) {
  if (state.application_id != 0 && state.application_id != kQueueApplicationId) {
    return "its PRAGMA application_id is " + std::to_string(state.application_id) +
           ", not the queue's " + std::to_string(kQueueApplicationId);
  }
  if (state.version == 0 && state.has_objects) {
    return "it has tables but no schema version (PRAGMA user_version is 0)";
  }
  if (state.version > 0 && !state.has_events) {
    return "it has schema version " + std::to_string(state.version) + " but no events table";
  }
  if (state.version >= kApplicationIdVersion && state.application_id == 0) {
    return "it has schema version " + std::to_string(state.version) +
           " but no PRAGMA application_id";
  }
  return "";
}

// Throws a permanent DatabaseError when the file at `path` must not be used
// as a queue. An empty file is a queue still to be created, which only
// `allow_empty` accepts.
void CheckIsQueue(const SchemaState& state, const std::string& path, bool allow_empty) {
  std::string foreign = ForeignFileReason(state);
  if (!foreign.empty()) {
    throw DatabaseError("queue database " + path + " is not an Intercom Connector queue: " +
                        foreign + ", so it was left unchanged; check [queue] path");
  }
  if (state.version == 0 && !allow_empty) {
    throw DatabaseError("queue database " + path +
                        " is empty, not an Intercom Connector queue; check [queue] path, or "
                        "create the queue with intercom-ingest, intercom-worker or "
                        "intercom-queue import");
  }
  if (state.version > LatestSchemaVersion()) {
    throw DatabaseError("queue database " + path + " has schema version " +
                        std::to_string(state.version) + ", newer than this binary's " +
                        std::to_string(LatestSchemaVersion()) + "; run a newer release");
  }
}

// Applies the migrations the file lacks in one BEGIN IMMEDIATE transaction.
// The state is read again inside it, because another process may have
// migrated the file since it was last read.
void Migrate(SQLite::Database& db, const std::string& path, bool allow_empty) {
  db.exec("BEGIN IMMEDIATE");
  try {
    SchemaState state = ReadSchemaState(db);
    CheckIsQueue(state, path, allow_empty);
    for (const Migration& migration : Migrations()) {
      if (migration.version <= state.version) continue;
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

// Sets journal_mode = WAL, retrying SQLITE_BUSY every 10 ms until
// `busy_timeout` has passed. When two connections switch a new file to WAL at
// the same moment, SQLite can return SQLITE_BUSY without calling the busy
// handler: DatabaseTest.ConcurrentFirstOpenMigratesOnce reproduces it.
void EnableWal(SQLite::Database& db, std::chrono::milliseconds busy_timeout) {
  auto deadline = std::chrono::steady_clock::now() + busy_timeout;
  for (;;) {
    try {
      db.exec("PRAGMA journal_mode = WAL");
      return;
    } catch (const SQLite::Exception& error) {
      if ((error.getExtendedErrorCode() & 0xff) != SQLITE_BUSY ||
          std::chrono::steady_clock::now() >= deadline) {
        throw;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Opens `config.path` read-write (kCreate, kExisting) and migrates it.
std::unique_ptr<SQLite::Database> OpenReadWrite(const QueueConfig& config, QueueOpenMode mode) {
  bool create = mode == QueueOpenMode::kCreate;
  if (create && ::access(config.path.c_str(), F_OK) != 0) CreatePrivateFile(config.path);

  // The schema is checked before the pragmas, because journal_mode = WAL
  // would change another application's database.
  std::unique_ptr<SQLite::Database> db;
  SchemaState state;
  try {
    db = std::make_unique<SQLite::Database>(config.path, SQLite::OPEN_READWRITE);
    db->setBusyTimeout(static_cast<int>(config.busy_timeout.count()));
    state = ReadSchemaState(*db);
  } catch (const SQLite::Exception& error) {
    throw QueueError("opening", config.path, error, db.get());
  }
  CheckIsQueue(state, config.path, create);

  try {
    EnableWal(*db, config.busy_timeout);
    db->exec(config.synchronous == Synchronous::kFull ? "PRAGMA synchronous = FULL"
                                                      : "PRAGMA synchronous = NORMAL");
    db->exec("PRAGMA foreign_keys = ON");
    // Truncate the WAL file back to 64 MiB after a checkpoint, so a burst does
    // not leave a large file behind.
    db->exec("PRAGMA journal_size_limit = 67108864");
  } catch (const SQLite::Exception& error) {
    throw QueueError("opening", config.path, error, db.get());
  }

  if (create || state.version < LatestSchemaVersion()) {
    try {
      Migrate(*db, config.path, create);
    } catch (const SQLite::Exception& error) {
      throw QueueError("migrating", config.path, error, db.get());
    }
  }
  return db;
}

// Opens `config.path` with SQLITE_OPEN_READONLY and returns it with its state.
std::pair<std::unique_ptr<SQLite::Database>, SchemaState> OpenReadOnly(
    const QueueConfig& config) {
  std::unique_ptr<SQLite::Database> db;
  try {
    db = std::make_unique<SQLite::Database>(config.path, SQLite::OPEN_READONLY);
    db->setBusyTimeout(static_cast<int>(config.busy_timeout.count()));
    SchemaState state = ReadSchemaState(*db);
    return {std::move(db), state};
  } catch (const SQLite::Exception& error) {
    throw QueueError("opening", config.path, error, db.get());
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

std::unique_ptr<SQLite::Database> OpenQueue(const QueueConfig& config, QueueOpenMode mode) {
  if (mode != QueueOpenMode::kReadOnly) return OpenReadWrite(config, mode);

  // NOTE: in a directory this user cannot write, SQLite 3.40 opens a WAL
  // database read-only only while its -wal and -shm files exist, that is while
  // ingest or the worker has it open or after a crash. Otherwise it fails with
  // SQLITE_READONLY_DIRECTORY or SQLITE_READONLY_CANTINIT. The URI parameter
  // immutable=1 would avoid that, but it reads without locks, so it can return
  // torn pages while another process checkpoints a live queue.
  auto [db, state] = OpenReadOnly(config);
  CheckIsQueue(state, config.path, /*allow_empty=*/false);
  if (state.version < LatestSchemaVersion()) {
    db.reset();
    OpenReadWrite(config, QueueOpenMode::kExisting);
    std::tie(db, state) = OpenReadOnly(config);
    CheckIsQueue(state, config.path, /*allow_empty=*/false);
  }
  return db;
}

}  // namespace connector
