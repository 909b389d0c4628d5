#include "common/event_inserter.h"

#include <sqlite3.h>

namespace connector {

EventInserter::EventInserter(SQLite::Database& db)
    : db_(db),
      insert_(db,
              "INSERT INTO events (uuid, event, distinct_id, project_token, payload, person, "
              "received_at_ms, created_at, next_attempt_at_ms, updated_at_ms) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?7, ?7) "
              "ON CONFLICT (uuid) DO NOTHING") {}

void EventInserter::Fail(const std::string& operation, const SQLite::Exception& error) {
  throw InsertError(operation + " on the queue database failed: " + error.what() +
                        " (SQLite code " + std::to_string(error.getExtendedErrorCode()) + ")",
                    error.getExtendedErrorCode());
}

void EventInserter::Begin() {
  try {
    db_.exec("BEGIN IMMEDIATE");
  } catch (const SQLite::Exception& error) {
    Fail("BEGIN IMMEDIATE", error);
  }
}

bool EventInserter::Insert(const QueuedEvent& event) {
  try {
    insert_.reset();
    insert_.clearBindings();
    insert_.bindNoCopy(1, event.uuid);
    insert_.bindNoCopy(2, event.event);
    insert_.bindNoCopy(3, event.distinct_id);
    if (event.project_token) insert_.bindNoCopy(4, *event.project_token);
    insert_.bindNoCopy(5, event.payload);
    if (event.person) insert_.bindNoCopy(6, *event.person);
    insert_.bind(7, static_cast<int64_t>(event.received_at_ms));
    insert_.bind(8, static_cast<int64_t>(event.created_at));
    int changed = insert_.exec();
    insert_.reset();
    return changed > 0;
  } catch (const SQLite::Exception& error) {
    insert_.tryReset();
    Fail("inserting event " + event.uuid, error);
  }
}

void EventInserter::Commit() {
  try {
    db_.exec("COMMIT");
  } catch (const SQLite::Exception& error) {
    Fail("COMMIT", error);
  }
}

void EventInserter::Rollback() noexcept {
  // SQLite may already have rolled back (after SQLITE_FULL, for instance).
  if (sqlite3_get_autocommit(db_.getHandle()) != 0) return;
  try {
    db_.exec("ROLLBACK");
  } catch (const SQLite::Exception&) {
    // Nothing left to undo: the transaction ended with the failed statement.
  }
}

int EventInserter::InsertBatch(const std::vector<QueuedEvent>& events) {
  Begin();
  int added = 0;
  try {
    for (const QueuedEvent& event : events) {
      if (Insert(event)) ++added;
    }
    Commit();
  } catch (const InsertError&) {
    Rollback();
    throw;
  }
  return added;
}

}  // namespace connector
