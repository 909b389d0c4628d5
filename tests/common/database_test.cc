#include "common/database.h"

#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <thread>
#include <vector>

#include "tests/support/temp_dir.h"

namespace connector {
namespace {

QueueConfig QueueAt(const std::string& path) {
  QueueConfig config;
  config.path = path;
  return config;
}

TEST(DatabaseTest, NewFileGetsSchemaAndPragmas) {
  testing::TempDir dir;
  auto db = OpenQueue(QueueAt(dir.File("q.db")));
  EXPECT_EQ(SchemaVersion(*db), LatestSchemaVersion());
  EXPECT_EQ(db->execAndGet("PRAGMA journal_mode").getString(), "wal");
  EXPECT_EQ(db->execAndGet("PRAGMA foreign_keys").getInt(), 1);
  EXPECT_EQ(db->execAndGet("PRAGMA synchronous").getInt(), 2);  // FULL
  EXPECT_TRUE(db->tableExists("events"));
  EXPECT_TRUE(db->tableExists("delivery_attempts"));
}

TEST(DatabaseTest, FilesAreOwnerOnly) {
  testing::TempDir dir;
  auto db = OpenQueue(QueueAt(dir.File("q.db")));
  db->exec("INSERT INTO events (uuid, event, distinct_id, payload, received_at_ms, created_at, "
           "next_attempt_at_ms, updated_at_ms) VALUES ('u', 'e', 'd', '{}', 0, 0, 0, 0)");
  for (const char* name : {"q.db", "q.db-wal", "q.db-shm"}) {
    struct stat info {};
    ASSERT_EQ(::stat(dir.File(name).c_str(), &info), 0) << name;
    EXPECT_EQ(info.st_mode & 0777, 0600u) << name;
  }
}

TEST(DatabaseTest, StateOutsideLifecycleRejected) {
  testing::TempDir dir;
  auto db = OpenQueue(QueueAt(dir.File("q.db")));
  EXPECT_THROW(db->exec("INSERT INTO events (uuid, event, distinct_id, payload, received_at_ms, "
                        "created_at, next_attempt_at_ms, updated_at_ms, state) "
                        "VALUES ('u', 'e', 'd', '{}', 0, 0, 0, 0, 'sent')"),
               SQLite::Exception);
}

TEST(DatabaseTest, ReopenKeepsVersion) {
  testing::TempDir dir;
  OpenQueue(QueueAt(dir.File("q.db")));
  auto db = OpenQueue(QueueAt(dir.File("q.db")));
  EXPECT_EQ(SchemaVersion(*db), LatestSchemaVersion());
}

TEST(DatabaseTest, ConcurrentFirstOpenMigratesOnce) {
  testing::TempDir dir;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      try {
        OpenQueue(QueueAt(dir.File("q.db")));
      } catch (const std::exception&) {
        ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  auto db = OpenQueue(QueueAt(dir.File("q.db")));
  EXPECT_EQ(SchemaVersion(*db), LatestSchemaVersion());
}

TEST(DatabaseTest, NewerSchemaRejected) {
  testing::TempDir dir;
  {
    auto db = OpenQueue(QueueAt(dir.File("q.db")));
    db->exec("PRAGMA user_version = 999");
  }
  EXPECT_THROW(OpenQueue(QueueAt(dir.File("q.db"))), DatabaseError);
}

TEST(DatabaseTest, ClaimQueryUsesPendingIndex) {
  testing::TempDir dir;
  auto db = OpenQueue(QueueAt(dir.File("q.db")));
  SQLite::Statement plan(*db,
                         "EXPLAIN QUERY PLAN SELECT id FROM events WHERE state = 'pending' "
                         "AND next_attempt_at_ms <= 5 ORDER BY next_attempt_at_ms LIMIT 10");
  std::string detail;
  while (plan.executeStep()) detail += plan.getColumn(3).getString() + "\n";
  EXPECT_NE(detail.find("events_pending_due"), std::string::npos) << detail;
  EXPECT_EQ(detail.find("TEMP B-TREE"), std::string::npos) << detail;
}

TEST(DatabaseTest, UnwritableDirectoryNamesPath) {
  try {
    OpenQueue(QueueAt("/nonexistent-dir/q.db"));
    FAIL() << "expected DatabaseError";
  } catch (const DatabaseError& error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent-dir/q.db"), std::string::npos);
  }
}

}  // namespace
}  // namespace connector
