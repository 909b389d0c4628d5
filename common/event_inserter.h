#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "common/event.h"

namespace connector {

// Raised when the queue cannot take a write: busy past the busy timeout, disk
// full, I/O error. The message names the operation and SQLite's error; the
// write was rolled back, so none of the events are stored.
class InsertError : public std::runtime_error {
 public:
  InsertError(const std::string& message, int extended_code)
      : std::runtime_error(message), extended_code_(extended_code) {}

  int extended_code() const { return extended_code_; }  // SQLite extended result code

 private:
  int extended_code_;
};

// Inserts QueuedEvents as new `pending` rows, due at once. A row whose uuid
// is already in the table is left as it is and not counted, so a client that
// resends a batch adds nothing.
//
// Wraps one connection and one prepared statement: use it from one thread at a
// time, and do not run other transactions on the same connection meanwhile.
class EventInserter {
 public:
  explicit EventInserter(SQLite::Database& db);

  // Inserts every event in one BEGIN IMMEDIATE ... COMMIT and returns how many
  // rows were added. Throws InsertError after rolling back.
  int InsertBatch(const std::vector<QueuedEvent>& events);

  // The steps of InsertBatch, for a caller that groups several batches into
  // one transaction (ingest's group commit). Each throws InsertError; after
  // an error, call Rollback.
  void Begin();                             // BEGIN IMMEDIATE
  bool Insert(const QueuedEvent& event);    // true when a row was added
  void Commit();
  void Rollback() noexcept;                 // no-op when no transaction is open

 private:
  [[noreturn]] void Fail(const std::string& operation, const SQLite::Exception& error);

  SQLite::Database& db_;
  SQLite::Statement insert_;
};

}  // namespace connector
