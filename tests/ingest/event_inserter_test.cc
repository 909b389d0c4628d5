#include "common/event_inserter.h"

#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "common/database.h"
#include "tests/ingest/test_helpers.h"
#include "tests/support/temp_dir.h"

namespace connector {
namespace {

QueuedEvent MakeEvent(const std::string& uuid) {
  QueuedEvent event;
  event.uuid = uuid;
  event.event = "$identify";
  event.distinct_id = "user-1";
  event.project_token = "phc_x";
  event.payload = R"({"event":"$identify"})";
  event.received_at_ms = 1767225600123;
  event.created_at = 1767225000;
  return event;
}

class EventInserterTest : public ::testing::Test {
 protected:
  EventInserterTest() {
    config_.path = dir_.File("queue.db");
    config_.busy_timeout = Milliseconds(100);
    db_ = OpenQueue(config_);
  }

  testing::TempDir dir_;
  QueueConfig config_;
  std::unique_ptr<SQLite::Database> db_;
};

TEST_F(EventInserterTest, InsertsPendingRowsDueNow) {
  EventInserter inserter(*db_);
  QueuedEvent with_person = MakeEvent("00000000-0000-7000-8000-000000000002");
  with_person.person = R"({"properties":{"email":"a@example.com"}})";
  with_person.project_token.reset();
  EXPECT_EQ(inserter.InsertBatch({MakeEvent("00000000-0000-7000-8000-000000000001"), with_person}), 2);

  SQLite::Statement row(*db_,
                        "SELECT uuid, event, distinct_id, project_token, payload, person, "
                        "received_at_ms, created_at, state, attempts, next_attempt_at_ms, "
                        "updated_at_ms FROM events ORDER BY id");
  ASSERT_TRUE(row.executeStep());
  EXPECT_EQ(row.getColumn(0).getString(), "00000000-0000-7000-8000-000000000001");
  EXPECT_EQ(row.getColumn(1).getString(), "$identify");
  EXPECT_EQ(row.getColumn(2).getString(), "user-1");
  EXPECT_EQ(row.getColumn(3).getString(), "phc_x");
  EXPECT_EQ(row.getColumn(4).getString(), R"({"event":"$identify"})");
  EXPECT_TRUE(row.getColumn(5).isNull());
  EXPECT_EQ(row.getColumn(6).getInt64(), 1767225600123);
  EXPECT_EQ(row.getColumn(7).getInt64(), 1767225000);
  EXPECT_EQ(row.getColumn(8).getString(), "pending");
  EXPECT_EQ(row.getColumn(9).getInt(), 0);
  EXPECT_EQ(row.getColumn(10).getInt64(), 1767225600123);
  EXPECT_EQ(row.getColumn(11).getInt64(), 1767225600123);
  ASSERT_TRUE(row.executeStep());
  EXPECT_TRUE(row.getColumn(3).isNull());
  EXPECT_EQ(row.getColumn(5).getString(), R"({"properties":{"email":"a@example.com"}})");
}

TEST_F(EventInserterTest, DuplicateUuidsAddNothing) {
  EventInserter inserter(*db_);
  QueuedEvent event = MakeEvent("00000000-0000-7000-8000-000000000001");
  EXPECT_EQ(inserter.InsertBatch({event, event}), 1);
  event.event = "changed";
  EXPECT_EQ(inserter.InsertBatch({event}), 0);
  EXPECT_EQ(testing::CountEvents(*db_), 1);
  EXPECT_EQ(db_->execAndGet("SELECT event FROM events").getString(), "$identify");
}

TEST_F(EventInserterTest, LockedQueueFailsAndStoresNothing) {
  std::unique_ptr<SQLite::Database> other = OpenQueue(config_);
  other->exec("BEGIN IMMEDIATE");
  EventInserter inserter(*db_);
  try {
    inserter.InsertBatch({MakeEvent("00000000-0000-7000-8000-000000000001")});
    ADD_FAILURE() << "insert succeeded while another connection held the write lock";
  } catch (const InsertError& error) {
    EXPECT_EQ(error.extended_code() & 0xFF, SQLITE_BUSY);
    EXPECT_NE(std::string(error.what()).find("BEGIN IMMEDIATE"), std::string::npos);
  }
  other->exec("ROLLBACK");
  EXPECT_EQ(testing::CountEvents(*db_), 0);
  // The inserter is usable again once the lock is gone.
  EXPECT_EQ(inserter.InsertBatch({MakeEvent("00000000-0000-7000-8000-000000000001")}), 1);
}

TEST_F(EventInserterTest, FullDatabaseFailsAndStoresNothing) {
  // max_page_count makes SQLite report SQLITE_FULL as a full disk would.
  EventInserter inserter(*db_);
  int pages = db_->execAndGet("PRAGMA page_count").getInt();
  db_->exec("PRAGMA max_page_count = " + std::to_string(pages));
  std::vector<QueuedEvent> events;
  for (int i = 0; i < 200; ++i) {
    QueuedEvent event = MakeEvent("00000000-0000-7000-8000-" + std::to_string(100000000000 + i));
    event.payload = std::string(2000, 'x');
    events.push_back(event);
  }
  try {
    inserter.InsertBatch(events);
    ADD_FAILURE() << "insert succeeded past max_page_count";
  } catch (const InsertError& error) {
    EXPECT_EQ(error.extended_code() & 0xFF, SQLITE_FULL) << error.what();
  }
  EXPECT_EQ(testing::CountEvents(*db_), 0);
}

TEST_F(EventInserterTest, FailedStatementRollsBackTheBatch) {
  EventInserter inserter(*db_);
  QueuedEvent good = MakeEvent("00000000-0000-7000-8000-000000000001");
  db_->exec("CREATE TRIGGER reject_bad BEFORE INSERT ON events WHEN NEW.event = 'bad' "
            "BEGIN SELECT RAISE(ABORT, 'bad event'); END");
  QueuedEvent bad = MakeEvent("00000000-0000-7000-8000-000000000002");
  bad.event = "bad";
  EXPECT_THROW(inserter.InsertBatch({good, bad}), InsertError);
  EXPECT_EQ(testing::CountEvents(*db_), 0);
}

}  // namespace
}  // namespace connector
