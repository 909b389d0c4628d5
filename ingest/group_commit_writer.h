#pragma once

#include <SQLiteCpp/Database.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/event.h"
#include "common/event_inserter.h"

namespace connector {

// The result of one request's write.
struct CommitOutcome {
  bool committed = false;  // true: every event of the request is durable in `events`
  int added = 0;           // rows added; the rest were already there (same uuid)
  std::string error;       // why nothing was stored, when !committed
};

// Owns the only write connection of intercom-ingest and the thread that uses
// it. Handler threads call Commit() and block. The writer thread takes every
// request waiting at that moment and writes all their events in one
// BEGIN IMMEDIATE ... COMMIT (group commit), so concurrent requests share one
// fsync. A failed transaction fails every request in its group and stores
// nothing from any of them.
//
// Commit() is thread-safe. The connection is used only by the writer thread
// after the constructor returns.
class GroupCommitWriter {
 public:
  // Opens the queue (applying migrations) and starts the writer thread.
  // Throws DatabaseError when the queue cannot be opened.
  explicit GroupCommitWriter(const QueueConfig& config);
  ~GroupCommitWriter();
  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  // Writes `events` and returns once they are committed or the write failed.
  // An empty `events` still runs BEGIN IMMEDIATE ... COMMIT, which checks that
  // the queue can take a write (for /healthz). After Stop() it fails at once.
  CommitOutcome Commit(std::vector<QueuedEvent> events);

  // Writes what is already waiting, then stops the writer thread. Idempotent.
  void Stop();

  int schema_version() const { return schema_version_; }
  // Counters for tests and logs: transactions run, and requests they carried.
  uint64_t transactions() const { return transactions_.load(); }
  uint64_t requests() const { return requests_.load(); }

 private:
  struct Request {
    std::vector<QueuedEvent> events;
    CommitOutcome outcome;
    bool done = false;
  };

  void Run();
  void WriteGroup(const std::vector<std::shared_ptr<Request>>& group);

  std::unique_ptr<SQLite::Database> db_;  // used by the writer thread only
  std::unique_ptr<EventInserter> inserter_;
  int schema_version_ = 0;

  std::mutex mutex_;
  std::condition_variable work_ready_;  // a request arrived, or stopping
  std::condition_variable work_done_;   // a group finished
  std::deque<std::shared_ptr<Request>> waiting_;  // guarded by mutex_
  bool stopping_ = false;                         // guarded by mutex_

  std::atomic<uint64_t> transactions_{0};
  std::atomic<uint64_t> requests_{0};
  std::thread thread_;
};

}  // namespace connector
