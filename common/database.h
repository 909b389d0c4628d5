#pragma once

#include <SQLiteCpp/Database.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "common/config.h"

namespace connector {

// Raised when the queue database cannot be opened or migrated. The message
// names the file, the operation and SQLite's error.
class DatabaseError : public std::runtime_error {
 public:
  explicit DatabaseError(const std::string& message, bool transient = false)
      : std::runtime_error(message), transient_(transient) {}

  // True when the same call can succeed later with no change by an operator:
  // the disk or SQLite's page limit is full, a lock was held past
  // busy_timeout, an I/O error, too many open files. False when it cannot
  // work until someone changes the configuration or the file: a missing
  // directory, permission denied, a read-only file system, a file that is not
  // a SQLite database or whose schema is newer than this binary. Another
  // application's database, and an empty file where an existing queue is
  // expected, are permanent too.
  bool transient() const { return transient_; }

 private:
  bool transient_;
};

// The ways OpenQueue can open the queue file.
enum class QueueOpenMode {
  // Read-write. A missing or empty file becomes a new queue. Opening takes the
  // write lock once (BEGIN IMMEDIATE) even when the schema is current, so a
  // lock held past busy_timeout fails at start-up, where the worker waits for
  // it, and not at the first write. For ingest, the worker and
  // `intercom-queue import`.
  kCreate,
  // Read-write. The file must already be a queue. The write lock is taken
  // only when migrations are missing. For intercom-queue's changing commands.
  kExisting,
  // Read-only (SQLITE_OPEN_READONLY) with the busy timeout only, because the
  // other settings concern writes. The file must already be a queue. One that
  // lacks migrations gets them first through a short read-write connection,
  // which is the only case that takes the write lock. For intercom-queue's
  // inspection commands.
  kReadOnly,
};

// Opens a connection to the queue with the project's settings: WAL journal,
// the configured busy timeout and synchronous mode, foreign keys on. In
// kCreate mode, creates the file with mode 0600 when it does not exist (SQLite
// gives the -wal and -shm files the same mode). Applies every migration from
// schema/ that the file lacks. Safe when several processes open a new file at
// once: the migration runs in one BEGIN IMMEDIATE transaction, so one process
// applies it and the others find it done.
//
// Throws DatabaseError, and leaves the file unchanged, when the file has
// tables but PRAGMA user_version 0 (another application's database), when its
// schema is newer than this binary, and in kExisting and kReadOnly modes when
// it is empty.
//
// A SQLite::Database must be used by one thread at a time; each thread that
// needs the queue opens its own connection.
std::unique_ptr<SQLite::Database> OpenQueue(const QueueConfig& config,
                                            QueueOpenMode mode = QueueOpenMode::kCreate);

// Returns the schema version this binary applies (the highest migration number).
int LatestSchemaVersion();

// Returns PRAGMA user_version of an open connection.
int SchemaVersion(SQLite::Database& db);

}  // namespace connector
