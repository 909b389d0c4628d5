#pragma once

#include <SQLiteCpp/Database.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/config.h"

namespace connector {

// One delivery_attempts row, as the recorder writes it. The attempt number is
// computed in SQL (the event's highest attempt + 1).
struct AttemptRecord {
  int64_t started_at_ms = 0;
  int64_t duration_ms = 0;
  std::string outcome;                 // a delivery_attempts.outcome value
  std::optional<int> http_status;
  std::string identifier;              // "email" or "id"
  std::string request_id;
  std::string error_code;
  std::string error_message;
  std::string error;
  std::string notes;
  bool dry_run = false;                // written to worker.dry_run_file, not sent
};

// The change a Completion makes to the row's `reason`.
enum class ReasonChange { kKeep, kSet, kClear };

// The end of one event's turn in the worker: its new state, and the attempt
// rows and history entry that explain it. Written in one transaction.
struct Completion {
  int64_t event_id = 0;
  std::string state;                   // delivered, skipped, failed or pending
  bool count_attempt = false;          // attempts = attempts + 1
  std::optional<int64_t> next_attempt_at_ms;  // for pending; unset keeps the old value
  ReasonChange reason_change = ReasonChange::kKeep;
  std::string reason;
  std::optional<std::string> email;
  std::vector<AttemptRecord> attempts;
  std::optional<std::string> history_action;   // event_history.action
  std::string history_detail;
};

// Writes completions in batched transactions on its own thread and
// connection, so delivery threads never wait for an fsync and many outcomes
// share one commit. An event's state change and its attempt rows always land
// in the same transaction. A row whose lease this worker no longer holds
// (it expired and another worker took it) keeps its state; its attempt rows
// are still written, because the requests were sent. Submit() is thread-safe.
class DeliveryRecorder {
 public:
  DeliveryRecorder(const QueueConfig& config, std::string owner, const Clock& clock);
  ~DeliveryRecorder();
  DeliveryRecorder(const DeliveryRecorder&) = delete;
  DeliveryRecorder& operator=(const DeliveryRecorder&) = delete;

  void Submit(Completion completion);

  // Commits what is waiting and stops the thread.
  void Stop();

 private:
  void Run();
  void Write(const std::vector<Completion>& batch);

  std::unique_ptr<SQLite::Database> db_;
  std::string owner_;
  const Clock& clock_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Completion> waiting_;
  bool stopping_ = false;              // guarded by mutex_
  std::thread thread_;
};

}  // namespace connector
