// Runs the commands that change the queue (retry, skip, cancel, replay,
// purge) against real database files, including --dry-run and a write lock
// held by another connection.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <future>
#include <thread>

#include "tests/tools/queue_fixture.h"

namespace connector::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Poco::JSON::Object;

class QueueMutateTest : public QueueToolTest {
 protected:
  // Returns the (action, detail) pairs recorded for `id`, oldest first.
  std::vector<std::pair<std::string, std::string>> History(int64_t id) {
    SQLite::Statement query(*db_,
                            "SELECT action, coalesce(detail, '') FROM event_history "
                            "WHERE event_id = ? ORDER BY id");
    query.bind(1, id);
    std::vector<std::pair<std::string, std::string>> history;
    while (query.executeStep()) {
      history.emplace_back(query.getColumn(0).getString(), query.getColumn(1).getString());
    }
    return history;
  }

  int64_t Column(int64_t id, const std::string& column) {
    SQLite::Statement query(*db_, "SELECT " + column + " FROM events WHERE id = ?");
    query.bind(1, id);
    query.executeStep();
    return query.getColumn(0).getInt64();
  }

  std::string Reason(int64_t id) {
    SQLite::Statement query(*db_, "SELECT coalesce(reason, '') FROM events WHERE id = ?");
    query.bind(1, id);
    query.executeStep();
    return query.getColumn(0).getString();
  }

  // Seeds a failed event with two attempts, as the worker leaves one.
  int64_t SeedFailed(const std::string& uuid, int64_t age_ms = 60'000) {
    SeedRow row;
    row.uuid = uuid;
    row.state = "failed";
    row.attempts = 7;
    row.reason = "retries used up: HTTP 503";
    row.received_at_ms = now_ms_ - age_ms;
    row.next_attempt_at_ms = now_ms_ - age_ms;
    row.updated_at_ms = now_ms_ - age_ms;
    int64_t id = SeedEvent(*db_, row);
    SeedAttempt(*db_, id, 1, now_ms_ - age_ms, "retry", 503);
    SeedAttempt(*db_, id, 2, now_ms_ - age_ms, "failed", 503);
    return id;
  }
};

TEST_F(QueueMutateTest, RetryMovesFailedToPending) {
  int64_t failed = SeedFailed("f1");
  int64_t other_failed = SeedFailed("f2");
  int64_t pending = Seed("p1", "pending", 10'000);
  int64_t created_at = Column(failed, "created_at");

  RunResult result = Queue({"retry", std::to_string(failed), "f2"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("retried 2 events (failed -> pending)"));

  for (int64_t id : {failed, other_failed}) {
    EXPECT_EQ(State(id), "pending");
    EXPECT_EQ(Column(id, "attempts"), 0);
    EXPECT_GE(Column(id, "next_attempt_at_ms"), now_ms_);
    EXPECT_LE(Column(id, "next_attempt_at_ms"), NowMs());
    EXPECT_EQ(Column(id, "created_at"), created_at);
    EXPECT_EQ(Reason(id), "retries used up: HTTP 503");  // the last error stays readable
    auto history = History(id);
    ASSERT_EQ(history.size(), 1u);
    EXPECT_EQ(history[0].first, "retried");
    EXPECT_THAT(history[0].second, HasSubstr("was failed after 7 counted attempts"));
    EXPECT_THAT(history[0].second, HasSubstr("previous reason: retries used up: HTTP 503"));
  }
  EXPECT_EQ(Count("SELECT count(*) FROM delivery_attempts"), 4);
  EXPECT_EQ(Column(pending, "next_attempt_at_ms"), now_ms_ - 10'000);
  EXPECT_TRUE(History(pending).empty());
}

TEST_F(QueueMutateTest, RetryByFilterTakesOnlyFailed) {
  SeedRow row;
  row.uuid = "f-signup";
  row.event = "signup";
  row.state = "failed";
  int64_t signup = SeedEvent(*db_, row);
  row.uuid = "p-signup";
  row.state = "pending";
  int64_t pending_signup = SeedEvent(*db_, row);
  int64_t identify = SeedFailed("f-identify");

  RunResult result = Queue({"retry", "--event", "signup", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  Object::Ptr json = ParseJsonOrFail(result.out).extract<Object::Ptr>();
  EXPECT_EQ(json->getValue<int64_t>("moved"), 1);
  EXPECT_EQ(json->getArray("ids")->getElement<int64_t>(0), signup);
  EXPECT_FALSE(json->getValue<bool>("dry_run"));
  EXPECT_EQ(State(signup), "pending");
  EXPECT_EQ(State(identify), "failed");
  EXPECT_TRUE(History(pending_signup).empty());
}

TEST_F(QueueMutateTest, RetryAllMovesEveryFailed) {
  int64_t first = SeedFailed("f1");
  int64_t second = SeedFailed("f2");
  RunResult result = Queue({"retry", "--all"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(State(first), "pending");
  EXPECT_EQ(State(second), "pending");
}

TEST_F(QueueMutateTest, RetryNeedsSelection) {
  SeedFailed("f1");
  RunResult result = Queue({"retry"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("--all"));
  EXPECT_EQ(Count("SELECT count(*) FROM events WHERE state = 'failed'"), 1);
}

TEST_F(QueueMutateTest, RetryAllWithFilterRejected) {
  RunResult result = Queue({"retry", "--all", "--event", "x"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("--all"));
}

TEST_F(QueueMutateTest, RetryRejectsOtherStates) {
  RunResult result = Queue({"retry", "--state", "delivered"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("invalid --state \"delivered\" for retry"));
}

TEST_F(QueueMutateTest, RetryOfWrongStateReportsIt) {
  int64_t delivered = Seed("d1", "delivered");
  RunResult result = Queue({"retry", std::to_string(delivered), "999", "no-such-uuid"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("event " + std::to_string(delivered) +
                                    " is delivered, not failed; left as it is"));
  EXPECT_THAT(result.err, HasSubstr("no event with id 999"));
  EXPECT_THAT(result.err, HasSubstr("no event with uuid no-such-uuid"));
  EXPECT_EQ(State(delivered), "delivered");
}

TEST_F(QueueMutateTest, SkipNeedsReason) {
  int64_t pending = Seed("p1", "pending");
  RunResult result = Queue({"skip", std::to_string(pending)});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("--reason"));
  EXPECT_EQ(State(pending), "pending");
}

TEST_F(QueueMutateTest, SkipStopsPendingAndFailed) {
  int64_t pending = Seed("p1", "pending");
  int64_t failed = SeedFailed("f1");
  int64_t leased = Seed("l1", "leased");
  int64_t delivered = Seed("d1", "delivered");

  RunResult result = Queue({"skip", "--all", "--reason", "test account"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("skipped 2 events (pending or failed -> skipped)"));
  EXPECT_EQ(State(pending), "skipped");
  EXPECT_EQ(State(failed), "skipped");
  EXPECT_EQ(State(leased), "leased");
  EXPECT_EQ(State(delivered), "delivered");
  EXPECT_EQ(Reason(pending), "skipped by operator: test account");

  auto history = History(failed);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].first, "skipped");
  EXPECT_THAT(history[0].second, StartsWith("intercom-queue skip by "));
  EXPECT_THAT(history[0].second, HasSubstr("skipped by operator: test account"));
  EXPECT_THAT(history[0].second, HasSubstr("previous reason: retries used up"));
}

TEST_F(QueueMutateTest, CancelRecordsCancelled) {
  int64_t pending = Seed("p1", "pending");
  RunResult result = Queue({"cancel", "p1", "--reason", "bad import"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(State(pending), "skipped");
  EXPECT_EQ(Reason(pending), "cancelled by operator: bad import");
  auto history = History(pending);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].first, "cancelled");
}

TEST_F(QueueMutateTest, ReplayMovesDeliveredInRange) {
  int64_t before = Seed("d-old", "delivered", 5 * 3'600'000);
  int64_t inside = Seed("d-inside", "delivered", 2 * 3'600'000);
  SeedAttempt(*db_, inside, 1, now_ms_ - 2 * 3'600'000, "delivered", 202);
  int64_t after = Seed("d-new", "delivered", 10 * 60'000);
  int64_t failed = SeedFailed("f-inside", 2 * 3'600'000);

  RunResult result = Queue({"replay", "--since", "3h", "--until", "1h"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("replayed 1 event (delivered -> pending)"));
  EXPECT_EQ(State(inside), "pending");
  EXPECT_GE(Column(inside, "next_attempt_at_ms"), now_ms_);
  EXPECT_EQ(Column(inside, "created_at"), 1767225600);
  EXPECT_EQ(Count("SELECT count(*) FROM delivery_attempts WHERE event_id = " +
                  std::to_string(inside)),
            1);
  EXPECT_EQ(History(inside).at(0).first, "replayed");
  EXPECT_EQ(State(before), "delivered");
  EXPECT_EQ(State(after), "delivered");
  EXPECT_EQ(State(failed), "failed");
}

TEST_F(QueueMutateTest, ReplayHelpExplainsDeduplication) {
  RunResult result = Queue({"replay", "--help"});
  ASSERT_EQ(result.exit_code, 0);
  EXPECT_THAT(result.out, HasSubstr("de-duplicating"));
  EXPECT_THAT(result.out, HasSubstr("re-creates only the events Intercom lost"));
}

TEST_F(QueueMutateTest, DryRunChangesNothing) {
  SeedFailed("f1", 40LL * 86'400'000);
  Seed("p1", "pending");
  Seed("d1", "delivered", 40LL * 86'400'000);
  Seed("s1", "skipped", 40LL * 86'400'000);
  std::string before = DumpTables(*db_);

  const std::vector<std::vector<std::string>> commands = {
      {"retry", "--all", "--dry-run"},
      {"skip", "--all", "--reason", "x", "--dry-run"},
      {"cancel", "--all", "--reason", "x", "--dry-run"},
      {"replay", "--all", "--dry-run"},
      {"purge", "--older-than", "30d", "--include-failed", "--dry-run"},
  };
  for (const auto& command : commands) {
    RunResult result = Queue(command);
    EXPECT_EQ(result.exit_code, 0) << command[0] << ": " << result.err;
    EXPECT_THAT(result.out, HasSubstr("dry run: would have ")) << command[0];
    EXPECT_EQ(DumpTables(*db_), before) << command[0];
  }
}

TEST_F(QueueMutateTest, DryRunJsonListsIds) {
  int64_t failed = SeedFailed("f1");
  RunResult result = Queue({"retry", "--all", "--dry-run", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  Object::Ptr json = ParseJsonOrFail(result.out).extract<Object::Ptr>();
  EXPECT_TRUE(json->getValue<bool>("dry_run"));
  EXPECT_EQ(json->getValue<int64_t>("matched"), 1);
  EXPECT_EQ(json->getValue<int64_t>("moved"), 0);
  EXPECT_EQ(json->getArray("ids")->getElement<int64_t>(0), failed);
  EXPECT_EQ(State(failed), "failed");
}

TEST_F(QueueMutateTest, NothingToMoveExitsOne) {
  Seed("p1", "pending");
  RunResult result = Queue({"retry", "--all"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("no failed events matched"));
}

TEST_F(QueueMutateTest, RetryWaitsForWriteLock) {
  int64_t failed = SeedFailed("f1");

  // Hold the write lock as ingest's group commit would, then let it go while
  // the tool waits in its busy timeout.
  db_->exec("BEGIN IMMEDIATE");
  auto run = std::async(std::launch::async, [this] { return Queue({"retry", "--all"}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(State(failed), "failed");
  db_->exec("COMMIT");

  RunResult result = run.get();
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(State(failed), "pending");
}

TEST_F(QueueMutateTest, PurgeDeletesOldFinishedRows) {
  constexpr int64_t kDay = 86'400'000;
  int64_t old_delivered = Seed("d-old", "delivered", 31 * kDay);
  SeedAttempt(*db_, old_delivered, 1, now_ms_ - 31 * kDay, "delivered", 202);
  db_->exec("INSERT INTO event_history (event_id, at_ms, action) VALUES (" +
            std::to_string(old_delivered) + ", 0, 'replayed')");
  int64_t old_skipped = Seed("s-old", "skipped", 31 * kDay);
  int64_t old_failed = SeedFailed("f-old", 31 * kDay);
  int64_t old_pending = Seed("p-old", "pending", 31 * kDay);
  int64_t new_delivered = Seed("d-new", "delivered", 29 * kDay);

  RunResult result = Queue({"purge", "--older-than", "30d"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("deleted 2 events"));
  EXPECT_EQ(State(old_delivered), "(deleted)");
  EXPECT_EQ(State(old_skipped), "(deleted)");
  EXPECT_EQ(State(old_failed), "failed");
  EXPECT_EQ(State(old_pending), "pending");
  EXPECT_EQ(State(new_delivered), "delivered");
  EXPECT_EQ(Count("SELECT count(*) FROM delivery_attempts WHERE event_id = " +
                  std::to_string(old_delivered)),
            0);
  EXPECT_EQ(Count("SELECT count(*) FROM event_history WHERE event_id = " +
                  std::to_string(old_delivered)),
            0);

  RunResult with_failed = Queue({"purge", "--older-than", "30d", "--include-failed", "--json"});
  ASSERT_EQ(with_failed.exit_code, 0) << with_failed.err;
  Object::Ptr json = ParseJsonOrFail(with_failed.out).extract<Object::Ptr>();
  EXPECT_EQ(json->getValue<int64_t>("deleted"), 1);
  EXPECT_EQ(State(old_failed), "(deleted)");
  EXPECT_EQ(Count("SELECT count(*) FROM delivery_attempts"), 0);
}

TEST_F(QueueMutateTest, PurgeManyRowsInBatches) {
  db_->exec("BEGIN");
  for (int i = 0; i < 1234; ++i) Seed("d" + std::to_string(i), "delivered", 2 * 86'400'000);
  db_->exec("COMMIT");
  RunResult result = Queue({"purge", "--older-than", "1d", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ParseJsonOrFail(result.out).extract<Object::Ptr>()->getValue<int64_t>("deleted"),
            1234);
  EXPECT_EQ(Count("SELECT count(*) FROM events"), 0);
}

TEST_F(QueueMutateTest, PurgeNothingOldExitsOne) {
  Seed("d-new", "delivered", 1'000);
  EXPECT_EQ(Queue({"purge", "--older-than", "30d"}).exit_code, 1);
}

TEST_F(QueueMutateTest, PurgeNeedsValidAge) {
  RunResult missing = Queue({"purge"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("--older-than"));
  RunResult invalid = Queue({"purge", "--older-than", "a month"});
  EXPECT_EQ(invalid.exit_code, 2);
  EXPECT_THAT(invalid.err, HasSubstr("\"a month\""));
}

}  // namespace
}  // namespace connector::testing
