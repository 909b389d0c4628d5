#pragma once

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"

namespace connector {

// One row leased to this worker.
struct ClaimedEvent {
  int64_t id = 0;
  std::string uuid;
  std::string name;
  std::string distinct_id;
  std::string payload;
  std::optional<std::string> person;
  int64_t created_at = 0;              // Unix seconds, sent unchanged on every attempt
  int64_t received_at_ms = 0;          // when ingest received it, Unix ms
  int64_t due_at_ms = 0;               // next_attempt_at_ms when claimed
  int attempts = 0;                    // attempts counted towards retry_schedule so far
  // Earlier 404 not_found responses since the last operator retry or replay.
  int contact_missing_attempts = 0;
  int64_t lease_expires_at_ms = 0;
  bool probe = false;                  // sent while paused to test the token
};

// The claiming side of the queue: leases due rows to one worker, notices new
// rows and prunes finished ones. Owns its own connection, so one thread (the
// claimer) uses it.
class EventQueue {
 public:
  // `owner` is stored in lease_owner; unique per worker process.
  EventQueue(const QueueConfig& config, std::string owner, const Clock& clock,
             Milliseconds lease);

  // In one BEGIN IMMEDIATE transaction: returns rows whose lease expired to
  // pending (with an event_history row each), then leases up to `max` due
  // pending rows, oldest due first, with UPDATE ... RETURNING over the
  // events_pending_due index. Another process's transaction cannot interleave,
  // so two workers never lease the same row.
  std::vector<ClaimedEvent> Claim(int max);

  // Returns PRAGMA data_version, which changes when another connection
  // commits. Read from shared memory, so polling it costs no disk I/O.
  int64_t DataVersion();

  // Returns the earliest time (Unix ms) at which a row becomes claimable
  // without any new commit: the next pending row's due time or the next lease
  // expiry. nullopt when there is neither.
  std::optional<int64_t> NextWakeMs();

  // Deletes delivered and skipped rows (and, by cascade, their attempts and
  // history) last updated before `before_ms`. Returns the number deleted.
  int64_t Prune(int64_t before_ms);

  // Returns every row still leased by this owner to pending; used at the end
  // of a clean stop. Returns the number released.
  int64_t ReleaseOwned();

  const std::string& owner() const { return owner_; }

 private:
  std::unique_ptr<SQLite::Database> db_;
  std::string owner_;
  const Clock& clock_;
  Milliseconds lease_;
};

}  // namespace connector
