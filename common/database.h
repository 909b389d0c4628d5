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
  // a SQLite database or whose schema is newer than this binary.
  bool transient() const { return transient_; }

 private:
  bool transient_;
};

// Opens a connection to the queue with the project's settings: WAL journal,
// the configured busy timeout and synchronous mode, foreign keys on. Creates
// the file with mode 0600 when it does not exist (SQLite gives the -wal and
// -shm files the same mode) and applies every migration from schema/ that the
// file lacks. Safe when several processes open a new file at once: the
// migration runs in one BEGIN IMMEDIATE transaction, so one process applies it
// and the others find it done.
//
// A SQLite::Database must be used by one thread at a time; each thread that
// needs the queue opens its own connection.
std::unique_ptr<SQLite::Database> OpenQueue(const QueueConfig& config);

// Returns the schema version this binary applies (the highest migration number).
int LatestSchemaVersion();

// Returns PRAGMA user_version of an open connection.
int SchemaVersion(SQLite::Database& db);

}  // namespace connector
