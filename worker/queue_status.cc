#include "worker/queue_status.h"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include "common/database.h"

namespace connector {
namespace {

constexpr int64_t kCacheMs = 1000;
constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kMinutesShown = 60;

// Ends the read transaction on every path out of Query(), so the connection
// does not keep an old snapshot of the WAL, which would stop checkpoints.
class ReadTransaction {
 public:
  explicit ReadTransaction(SQLite::Database& db) : db_(db) { db_.exec("BEGIN"); }
  ~ReadTransaction() {
    try {
      db_.exec("COMMIT");
    } catch (const SQLite::Exception&) {
      // Nothing was written, so there is nothing to lose.
    }
  }

 private:
  SQLite::Database& db_;
};

}  // namespace

QueueStatusReader::QueueStatusReader(const QueueConfig& config, const Clock& clock)
    : clock_(clock), db_(OpenQueue(config)) {}

QueueStatus QueueStatusReader::Read() {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t now = clock_.NowMs();
  if (cached_ && now - cached_->read_at_ms < kCacheMs && now >= cached_->read_at_ms) {
    return *cached_;
  }
  cached_ = Query(now);
  return *cached_;
}

QueueStatus QueueStatusReader::Query(int64_t now_ms) {
  QueueStatus status;
  status.read_at_ms = now_ms;
  for (const char* state : {"pending", "leased", "delivered", "skipped", "failed"}) {
    status.events_by_state[state] = 0;
  }
  ReadTransaction transaction(*db_);

  // NOTE: this scans the whole events table, so its cost grows with the rows
  // that retention keeps. The cache runs it at most once a second.
  SQLite::Statement counts(*db_, "SELECT state, count(*) FROM events GROUP BY state");
  while (counts.executeStep()) {
    status.events_by_state[counts.getColumn(0).getString()] = counts.getColumn(1).getInt64();
  }

  SQLite::Statement oldest(*db_,
      "SELECT min(received_at_ms) FROM events WHERE state = 'pending'");
  if (oldest.executeStep() && !oldest.getColumn(0).isNull()) {
    status.oldest_pending_received_ms = oldest.getColumn(0).getInt64();
  }

  // Attempts per minute and outcome, for the minutes shown.
  int64_t first_minute = (now_ms / kMinuteMs - (kMinutesShown - 1)) * kMinuteMs;
  for (int64_t i = 0; i < kMinutesShown; ++i) {
    MinuteAttempts minute;
    minute.minute_start_ms = first_minute + i * kMinuteMs;
    status.last_hour.push_back(minute);
  }
  SQLite::Statement attempts(*db_,
      "SELECT (started_at_ms - ?1) / 60000 AS minute, outcome, count(*) "
      "FROM delivery_attempts WHERE started_at_ms >= ?1 GROUP BY minute, outcome");
  attempts.bind(1, first_minute);
  while (attempts.executeStep()) {
    int64_t index = attempts.getColumn(0).getInt64();
    if (index < 0 || index >= kMinutesShown) continue;  // a clock that went back
    MinuteAttempts& minute = status.last_hour[static_cast<size_t>(index)];
    std::string outcome = attempts.getColumn(1).getString();
    int64_t count = attempts.getColumn(2).getInt64();
    if (outcome == "delivered") {
      minute.delivered += count;
    } else if (outcome == "failed") {
      minute.failed += count;
    } else {
      minute.retried += count;
    }
  }

  SQLite::Statement failures(*db_,
      "SELECT e.id, e.event, coalesce(e.email, ''), e.updated_at_ms, coalesce(e.reason, ''), "
      "       (SELECT a.http_status FROM delivery_attempts AS a WHERE a.event_id = e.id "
      "        ORDER BY a.id DESC LIMIT 1) "
      "FROM events AS e INDEXED BY events_failed WHERE e.state = 'failed' "
      "ORDER BY e.updated_at_ms DESC, e.id DESC LIMIT ?1");
  failures.bind(1, QueueStatus::kMaxFailures);
  while (failures.executeStep()) {
    FailureSummary failure;
    failure.id = failures.getColumn(0).getInt64();
    failure.event = failures.getColumn(1).getString();
    failure.email = failures.getColumn(2).getString();
    failure.failed_at_ms = failures.getColumn(3).getInt64();
    failure.reason = failures.getColumn(4).getString();
    if (!failures.getColumn(5).isNull()) failure.http_status = failures.getColumn(5).getInt();
    status.latest_failures.push_back(failure);
  }
  return status;
}

}  // namespace connector
