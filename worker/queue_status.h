#pragma once

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"

namespace connector {

// A failed event as the status page lists it.
struct FailureSummary {
  int64_t id = 0;
  std::string event;
  std::string email;                   // empty when none was found
  int64_t failed_at_ms = 0;            // updated_at_ms of the failed row
  std::optional<int> http_status;      // of the last request, when a response arrived
  std::string reason;
};

// Requests sent to Intercom during one minute, by outcome.
struct MinuteAttempts {
  int64_t minute_start_ms = 0;         // Unix ms, a multiple of 60000
  int64_t delivered = 0;
  int64_t failed = 0;
  // retry, rate_limited, paused and contact_missing outcomes
  int64_t retried = 0;
};

// The queue's state for the status page and the queue gauges, read in one
// transaction.
struct QueueStatus {
  int64_t read_at_ms = 0;
  // Every state (pending, leased, delivered, skipped, failed), 0 when empty.
  std::map<std::string, int64_t> events_by_state;
  std::optional<int64_t> oldest_pending_received_ms;
  // 60 minutes ending with the current one, oldest first.
  std::vector<MinuteAttempts> last_hour;
  std::vector<FailureSummary> latest_failures;  // newest first, at most kMaxFailures
  static constexpr int kMaxFailures = 10;
};

// Reads QueueStatus on its own connection, which it only reads through.
// A result is reused for one second, so frequent scrapes and page refreshes
// cost one set of queries a second. Thread-safe.
class QueueStatusReader {
 public:
  // Throws DatabaseError when the queue cannot be opened.
  QueueStatusReader(const QueueConfig& config, const Clock& clock);

  // Returns the cached status, or reads a new one when it is older than a
  // second. Throws SQLite::Exception when the queries fail.
  QueueStatus Read();

 private:
  QueueStatus Query(int64_t now_ms);

  const Clock& clock_;
  std::mutex mutex_;
  std::unique_ptr<SQLite::Database> db_;  // guarded by mutex_
  std::optional<QueueStatus> cached_;     // guarded by mutex_
};

}  // namespace connector
