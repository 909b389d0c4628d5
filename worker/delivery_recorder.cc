#include "worker/delivery_recorder.h"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <chrono>

#include "common/database.h"
#include "common/log.h"

namespace connector {
namespace {

constexpr size_t kMaxBatch = 512;

void BindText(SQLite::Statement& statement, int index, const std::string& text) {
  if (text.empty()) {
    statement.bind(index);
  } else {
    statement.bind(index, text);
  }
}

}  // namespace

DeliveryRecorder::DeliveryRecorder(const QueueConfig& config, std::string owner,
                                   const Clock& clock)
    : db_(OpenQueue(config)), owner_(std::move(owner)), clock_(clock) {
  thread_ = std::thread([this] { Run(); });
}

DeliveryRecorder::~DeliveryRecorder() { Stop(); }

void DeliveryRecorder::Submit(Completion completion) {
  std::lock_guard<std::mutex> lock(mutex_);
  waiting_.push_back(std::move(completion));
  wake_.notify_one();
}

void DeliveryRecorder::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void DeliveryRecorder::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
    if (waiting_.empty() && stopping_) break;

    std::vector<Completion> batch;
    while (!waiting_.empty() && batch.size() < kMaxBatch) {
      batch.push_back(std::move(waiting_.front()));
      waiting_.pop_front();
    }
    lock.unlock();

    // A failed commit (disk full, a lock held past busy_timeout) must not
    // lose outcomes: keep the batch and try again.
    while (true) {
      try {
        Write(batch);
        break;
      } catch (const std::exception& error) {
        log::Error("record_failed", {{"events", static_cast<int64_t>(batch.size())},
                                     {"error", error.what()}});
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }

    lock.lock();
  }
}

void DeliveryRecorder::Write(const std::vector<Completion>& batch) {
  int64_t now = clock_.NowMs();
  SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement update(*db_,
      "UPDATE events SET state = ?1, attempts = attempts + ?2, "
      "next_attempt_at_ms = COALESCE(?3, next_attempt_at_ms), "
      "lease_expires_at_ms = NULL, lease_owner = NULL, email = COALESCE(?4, email), "
      "reason = CASE ?5 WHEN 0 THEN reason WHEN 1 THEN ?6 ELSE NULL END, updated_at_ms = ?7 "
      "WHERE id = ?8 AND state = 'leased' AND lease_owner = ?9");
  SQLite::Statement exists(*db_, "SELECT 1 FROM events WHERE id = ?");
  SQLite::Statement attempt(*db_,
      "INSERT INTO delivery_attempts (event_id, attempt, started_at_ms, duration_ms, outcome, "
      " http_status, identifier, intercom_request_id, intercom_error_code, "
      " intercom_error_message, error, notes) "
      "SELECT ?1, COALESCE(MAX(attempt), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 "
      "FROM delivery_attempts WHERE event_id = ?1");
  SQLite::Statement history(*db_,
      "INSERT INTO event_history (event_id, at_ms, action, detail) VALUES (?, ?, ?, ?)");

  for (const Completion& completion : batch) {
    update.reset();
    update.bind(1, completion.state);
    update.bind(2, completion.count_attempt ? 1 : 0);
    if (completion.next_attempt_at_ms) {
      update.bind(3, *completion.next_attempt_at_ms);
    } else {
      update.bind(3);
    }
    if (completion.email) {
      update.bind(4, *completion.email);
    } else {
      update.bind(4);
    }
    update.bind(5, static_cast<int>(completion.reason_change));
    update.bind(6, completion.reason);
    update.bind(7, now);
    update.bind(8, completion.event_id);
    update.bind(9, owner_);
    if (update.exec() == 0) {
      exists.reset();
      exists.bind(1, completion.event_id);
      if (!exists.executeStep()) continue;  // deleted by an operator meanwhile
      log::Warn("lease_lost", {{"event_id", completion.event_id},
                               {"state_not_written", completion.state}});
    }

    for (const AttemptRecord& record : completion.attempts) {
      attempt.reset();
      attempt.bind(1, completion.event_id);
      attempt.bind(2, record.started_at_ms);
      attempt.bind(3, record.duration_ms);
      attempt.bind(4, record.outcome);
      if (record.http_status) {
        attempt.bind(5, *record.http_status);
      } else {
        attempt.bind(5);
      }
      BindText(attempt, 6, record.identifier);
      BindText(attempt, 7, record.request_id);
      BindText(attempt, 8, record.error_code);
      BindText(attempt, 9, record.error_message);
      BindText(attempt, 10, record.error);
      BindText(attempt, 11, record.notes);
      attempt.exec();
    }

    if (completion.history_action) {
      history.reset();
      history.bind(1, completion.event_id);
      history.bind(2, now);
      history.bind(3, *completion.history_action);
      BindText(history, 4, completion.history_detail);
      history.exec();
    }
  }
  transaction.commit();
}

}  // namespace connector
