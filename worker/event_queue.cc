#include "worker/event_queue.h"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <algorithm>

#include "common/database.h"
#include "common/log.h"

namespace connector {

EventQueue::EventQueue(const QueueConfig& config, std::string owner, const Clock& clock,
                       Milliseconds lease)
    : db_(OpenQueue(config)), owner_(std::move(owner)), clock_(clock), lease_(lease) {}

std::vector<ClaimedEvent> EventQueue::Claim(int max) {
  std::vector<ClaimedEvent> claimed;
  int64_t now = clock_.NowMs();
  SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);

  // Expired leases first, so their rows compete with the other due rows.
  std::vector<std::pair<int64_t, std::string>> expired;
  {
    SQLite::Statement find(*db_,
        "SELECT id, lease_owner FROM events INDEXED BY events_lease_expiry "
        "WHERE state = 'leased' AND lease_expires_at_ms <= ?");
    find.bind(1, now);
    while (find.executeStep()) {
      expired.emplace_back(find.getColumn(0).getInt64(), find.getColumn(1).getString());
    }
  }
  if (!expired.empty()) {
    SQLite::Statement release(*db_,
        "UPDATE events SET state = 'pending', lease_expires_at_ms = NULL, lease_owner = NULL, "
        "updated_at_ms = ?1 WHERE state = 'leased' AND lease_expires_at_ms <= ?1");
    release.bind(1, now);
    release.exec();
  }
  for (const auto& [id, previous_owner] : expired) {
    SQLite::Statement history(*db_,
        "INSERT INTO event_history (event_id, at_ms, action, detail) "
        "VALUES (?1, ?2, 'lease_expired', ?3)");
    history.bind(1, id);
    history.bind(2, now);
    history.bind(3, "lease held by " + previous_owner + " expired");
    history.exec();
    log::Warn("lease_expired", {{"event_id", id}, {"previous_owner", previous_owner}});
  }

  // RETURNING cannot hold a subquery, so the 404 count is read per row below.
  {
    SQLite::Statement lease(*db_,
        "UPDATE events SET state = 'leased', lease_owner = ?1, lease_expires_at_ms = ?2, "
        "updated_at_ms = ?3 "
        "WHERE id IN (SELECT id FROM events INDEXED BY events_pending_due "
        "             WHERE state = 'pending' AND next_attempt_at_ms <= ?3 "
        "             ORDER BY next_attempt_at_ms LIMIT ?4) "
        "RETURNING id, uuid, event, distinct_id, payload, person, created_at, attempts, "
        "next_attempt_at_ms, received_at_ms");
    lease.bind(1, owner_);
    lease.bind(2, now + lease_.count());
    lease.bind(3, now);
    lease.bind(4, max);
    while (lease.executeStep()) {
      ClaimedEvent event;
      event.id = lease.getColumn(0).getInt64();
      event.uuid = lease.getColumn(1).getString();
      event.name = lease.getColumn(2).getString();
      event.distinct_id = lease.getColumn(3).getString();
      event.payload = lease.getColumn(4).getString();
      if (!lease.getColumn(5).isNull()) event.person = lease.getColumn(5).getString();
      event.created_at = lease.getColumn(6).getInt64();
      event.attempts = lease.getColumn(7).getInt();
      event.due_at_ms = lease.getColumn(8).getInt64();
      event.received_at_ms = lease.getColumn(9).getInt64();
      event.lease_expires_at_ms = now + lease_.count();
      claimed.push_back(std::move(event));
    }
  }
  // RETURNING gives rows in no set order; deliver the oldest due first.
  std::stable_sort(claimed.begin(), claimed.end(), [](const ClaimedEvent& a, const ClaimedEvent& b) {
    return a.due_at_ms != b.due_at_ms ? a.due_at_ms < b.due_at_ms : a.id < b.id;
  });
  // An operator's retry or replay starts a fresh contact wait window, so
  // only 404s since the last of those count. Prepared once per claim:
  // preparing it per row cost more than all the rest of the claim.
  SQLite::Statement count(*db_,
      "SELECT COUNT(*) FROM delivery_attempts WHERE event_id = ?1 AND outcome = 'contact_missing' "
      "AND started_at_ms >= COALESCE((SELECT MAX(at_ms) FROM event_history "
      " WHERE event_id = ?1 AND action IN ('retried', 'replayed')), 0)");
  for (ClaimedEvent& event : claimed) {
    count.reset();
    count.bind(1, event.id);
    count.executeStep();
    event.contact_missing_attempts = count.getColumn(0).getInt();
  }
  transaction.commit();

  for (const ClaimedEvent& event : claimed) {
    log::Info("claimed", {{"event_id", event.id}, {"uuid", event.uuid}, {"event", event.name},
                          {"attempts", event.attempts}});
  }
  return claimed;
}

int64_t EventQueue::DataVersion() {
  return db_->execAndGet("PRAGMA data_version").getInt64();
}

std::optional<int64_t> EventQueue::NextWakeMs() {
  SQLite::Statement next(*db_,
      "SELECT MIN(t) FROM ("
      " SELECT MIN(next_attempt_at_ms) AS t FROM events WHERE state = 'pending'"
      " UNION ALL"
      " SELECT MIN(lease_expires_at_ms) FROM events WHERE state = 'leased')");
  if (!next.executeStep() || next.getColumn(0).isNull()) return std::nullopt;
  return next.getColumn(0).getInt64();
}

int64_t EventQueue::Prune(int64_t before_ms) {
  // Small batches keep each write transaction short, so ingest is never held
  // up behind a large delete.
  int64_t total = 0;
  while (true) {
    SQLite::Statement prune(*db_,
        "DELETE FROM events WHERE id IN (SELECT id FROM events INDEXED BY events_finished "
        " WHERE state IN ('delivered', 'skipped') AND updated_at_ms < ? LIMIT 500)");
    prune.bind(1, before_ms);
    int deleted = prune.exec();
    total += deleted;
    if (deleted < 500) break;
  }
  return total;
}

int64_t EventQueue::ReleaseOwned() {
  SQLite::Statement release(*db_,
      "UPDATE events SET state = 'pending', lease_expires_at_ms = NULL, lease_owner = NULL, "
      "updated_at_ms = ? WHERE state = 'leased' AND lease_owner = ?");
  release.bind(1, clock_.NowMs());
  release.bind(2, owner_);
  return release.exec();
}

}  // namespace connector
