#include "worker/event_queue.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "tests/worker/fakes.h"
#include "tests/worker/worker_fixture.h"

namespace connector {
namespace {

using testing::FakeClock;
using testing::TestEvent;

constexpr int64_t kNow = 1'700'000'000'000;

class EventQueueTest : public testing::WorkerFixture {
 protected:
  int64_t InsertDue(int64_t due_ms) {
    TestEvent event;
    event.next_attempt_at_ms = due_ms;
    return Insert(event);
  }

  FakeClock clock_{kNow};
};

TEST_F(EventQueueTest, ClaimsDueRowsOldestFirst) {
  int64_t later = InsertDue(kNow - 10);
  int64_t earlier = InsertDue(kNow - 20);
  InsertDue(kNow + 1000);  // not due yet
  EventQueue queue(config_.queue, "w1", clock_, Milliseconds(60000));
  std::vector<ClaimedEvent> claimed = queue.Claim(10);
  ASSERT_EQ(claimed.size(), 2u);
  EXPECT_EQ(claimed[0].id, earlier);
  EXPECT_EQ(claimed[1].id, later);
  EXPECT_EQ(claimed[0].created_at, 1'700'000'000);
  EXPECT_EQ(claimed[0].lease_expires_at_ms, kNow + 60000);
  testing::EventRow row = Read(earlier);
  EXPECT_EQ(row.state, "leased");
  EXPECT_EQ(row.lease_owner, "w1");
  EXPECT_TRUE(queue.Claim(10).empty());
}

TEST_F(EventQueueTest, ClaimRespectsMax) {
  for (int i = 0; i < 5; ++i) InsertDue(kNow);
  EventQueue queue(config_.queue, "w1", clock_, Milliseconds(60000));
  EXPECT_EQ(queue.Claim(3).size(), 3u);
  EXPECT_EQ(queue.Claim(3).size(), 2u);
}

TEST_F(EventQueueTest, ClaimQueryUsesPendingIndex) {
  SQLite::Statement plan(*db_,
      "EXPLAIN QUERY PLAN SELECT id FROM events INDEXED BY events_pending_due "
      "WHERE state = 'pending' AND next_attempt_at_ms <= 0 ORDER BY next_attempt_at_ms LIMIT 1");
  std::string detail;
  while (plan.executeStep()) detail += plan.getColumn(3).getString() + "\n";
  EXPECT_NE(detail.find("events_pending_due"), std::string::npos) << detail;
}

TEST_F(EventQueueTest, ExpiredLeaseBecomesClaimable) {
  int64_t id = InsertDue(kNow);
  EventQueue dead(config_.queue, "dead", clock_, Milliseconds(1000));
  ASSERT_EQ(dead.Claim(1).size(), 1u);
  EventQueue alive(config_.queue, "alive", clock_, Milliseconds(1000));
  EXPECT_TRUE(alive.Claim(1).empty());
  EXPECT_EQ(alive.NextWakeMs(), kNow + 1000);
  clock_.Advance(1000);
  std::vector<ClaimedEvent> claimed = alive.Claim(1);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].id, id);
  EXPECT_EQ(Read(id).lease_owner, "alive");
  EXPECT_EQ(Count("SELECT COUNT(*) FROM event_history WHERE action = 'lease_expired'"), 1);
}

TEST_F(EventQueueTest, ConcurrentClaimersGetDistinctRows) {
  db_->exec("BEGIN");
  for (int i = 0; i < 400; ++i) InsertDue(kNow);
  db_->exec("COMMIT");
  std::vector<int64_t> ids[4];
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      EventQueue queue(config_.queue, "w" + std::to_string(t), clock_, Milliseconds(60000));
      while (true) {
        std::vector<ClaimedEvent> claimed = queue.Claim(7);
        if (claimed.empty()) break;
        for (const ClaimedEvent& event : claimed) ids[t].push_back(event.id);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<int64_t> all;
  size_t total = 0;
  for (const auto& list : ids) {
    total += list.size();
    all.insert(list.begin(), list.end());
  }
  EXPECT_EQ(total, 400u);
  EXPECT_EQ(all.size(), 400u);
}

TEST_F(EventQueueTest, CountsContactMissingSinceRetry) {
  int64_t id = InsertDue(kNow);
  std::string event = std::to_string(id);
  db_->exec("INSERT INTO delivery_attempts (event_id, attempt, started_at_ms, duration_ms, outcome) "
            "VALUES (" + event + ", 1, 100, 1, 'contact_missing'), (" + event +
            ", 2, 200, 1, 'contact_missing'), (" + event + ", 3, 300, 1, 'retry')");
  EventQueue queue(config_.queue, "w1", clock_, Milliseconds(60000));
  std::vector<ClaimedEvent> claimed = queue.Claim(1);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].contact_missing_attempts, 2);
  EXPECT_EQ(queue.ReleaseOwned(), 1);

  // An operator retry at 150 leaves the 404 at 100 out of the count.
  db_->exec("INSERT INTO event_history (event_id, at_ms, action) VALUES (" + event +
            ", 150, 'retried')");
  claimed = queue.Claim(1);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].contact_missing_attempts, 1);
}

TEST_F(EventQueueTest, DataVersionChangesOnOtherCommit) {
  EventQueue queue(config_.queue, "w1", clock_, Milliseconds(60000));
  int64_t before = queue.DataVersion();
  EXPECT_EQ(queue.DataVersion(), before);
  InsertDue(kNow);
  EXPECT_NE(queue.DataVersion(), before);
}

TEST_F(EventQueueTest, PruneKeepsFailedAndRecentRows) {
  auto insert = [&](const std::string& state, int64_t updated) {
    TestEvent event;
    event.state = state;
    event.updated_at_ms = updated;
    return Insert(event);
  };
  insert("delivered", 100);
  insert("skipped", 100);
  int64_t failed = insert("failed", 100);
  int64_t recent = insert("delivered", 5000);
  EventQueue queue(config_.queue, "w1", clock_, Milliseconds(60000));
  EXPECT_EQ(queue.Prune(1000), 2);
  EXPECT_EQ(Read(failed).state, "failed");
  EXPECT_EQ(Read(recent).state, "delivered");
}

TEST_F(EventQueueTest, ReleaseOwnedReturnsRowsToPending) {
  InsertDue(kNow);
  InsertDue(kNow);
  EventQueue queue(config_.queue, "w1", clock_, Milliseconds(60000));
  ASSERT_EQ(queue.Claim(5).size(), 2u);
  EXPECT_EQ(queue.ReleaseOwned(), 2);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE state = 'pending' AND lease_owner IS NULL"), 2);
}

}  // namespace
}  // namespace connector
