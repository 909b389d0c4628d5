#include "common/database.h"

#include <SQLiteCpp/Statement.h>
#include <gmock/gmock.h>
#include <sqlite3.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/migrations.h"
#include "tests/support/page_limit.h"
#include "tests/support/small_disk.h"
#include "tests/support/temp_dir.h"

namespace connector {
namespace {

using ::testing::HasSubstr;

QueueConfig QueueAt(const std::string& path) {
  QueueConfig config;
  config.path = path;
  return config;
}

// Returns the DatabaseError that OpenQueue(config) throws, or nullopt when the
// queue opens.
std::optional<DatabaseError> OpenQueueError(const QueueConfig& config,
                                           QueueOpenMode mode = QueueOpenMode::kCreate) {
  try {
    OpenQueue(config, mode);
  } catch (const DatabaseError& error) {
    return error;
  }
  return std::nullopt;
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

// Eight connections open one new file at once, as ingest, the worker and
// intercom-queue can on a first start. Without the retry in EnableWal about
// one round in twenty failed with "database is locked", hence fifty rounds.
TEST(DatabaseTest, ConcurrentFirstOpenMigratesOnce) {
  testing::TempDir dir;
  for (int round = 0; round < 50; ++round) {
    std::string path = dir.File("q" + std::to_string(round) + ".db");
    std::vector<std::thread> threads;
    std::mutex mutex;
    std::vector<std::string> errors;
    for (int i = 0; i < 8; ++i) {
      threads.emplace_back([&] {
        try {
          OpenQueue(QueueAt(path));
        } catch (const std::exception& error) {
          std::lock_guard<std::mutex> lock(mutex);
          errors.push_back(error.what());
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    ASSERT_THAT(errors, ::testing::IsEmpty()) << "round " << round;
    auto db = OpenQueue(QueueAt(path));
    EXPECT_EQ(SchemaVersion(*db), LatestSchemaVersion());
  }
}

TEST(DatabaseTest, NewerSchemaRejected) {
  testing::TempDir dir;
  {
    auto db = OpenQueue(QueueAt(dir.File("q.db")));
    db->exec("PRAGMA user_version = 999");
  }
  std::optional<DatabaseError> error = OpenQueueError(QueueAt(dir.File("q.db")));
  ASSERT_TRUE(error.has_value()) << "the queue opened";
  EXPECT_FALSE(error->transient()) << error->what();
}

TEST(DatabaseTest, FullQueueIsTransient) {
  testing::TempDir dir;
  testing::PageLimit limit(1);
  std::optional<DatabaseError> error = OpenQueueError(QueueAt(dir.File("q.db")));
  ASSERT_TRUE(error.has_value()) << "the queue opened";
  EXPECT_TRUE(error->transient()) << error->what();
  EXPECT_THAT(error->what(), HasSubstr("database or disk is full"));

  // Once the file may grow, the same call applies every migration.
  limit.Lift();
  auto db = OpenQueue(QueueAt(dir.File("q.db")));
  EXPECT_EQ(SchemaVersion(*db), LatestSchemaVersion());
}

// On a real disk the first migration fails at COMMIT, when SQLite writes the
// WAL, and SQLite then rolls the transaction back by itself. Mounting the
// tmpfs needs root.
TEST(DatabaseTest, DiskFullAtCommitIsTransient) {
  testing::TempDir dir;
  testing::SmallDisk disk(dir.File("mnt"), 1);
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << disk.error();
  // Room for the empty file and its -shm file, not for the migration's WAL.
  ASSERT_GE(disk.Fill(48 * 1024), 0);
  std::optional<DatabaseError> error = OpenQueueError(QueueAt(dir.File("mnt/q.db")));
  ASSERT_TRUE(error.has_value()) << "the queue opened";
  EXPECT_TRUE(error->transient()) << error->what();
  EXPECT_THAT(error->what(), HasSubstr("database or disk is full"));

  disk.Free();
  auto db = OpenQueue(QueueAt(dir.File("mnt/q.db")));
  EXPECT_EQ(SchemaVersion(*db), LatestSchemaVersion());
}

TEST(DatabaseTest, LockHeldPastBusyTimeoutIsTransient) {
  testing::TempDir dir;
  QueueConfig config = QueueAt(dir.File("q.db"));
  config.busy_timeout = Milliseconds(50);
  auto holder = OpenQueue(config);
  holder->exec("BEGIN IMMEDIATE");
  std::optional<DatabaseError> error = OpenQueueError(config);
  holder->exec("ROLLBACK");
  ASSERT_TRUE(error.has_value()) << "the queue opened";
  EXPECT_TRUE(error->transient()) << error->what();
  EXPECT_THAT(error->what(), HasSubstr("database is locked"));
}

TEST(DatabaseTest, NotADatabaseIsPermanent) {
  testing::TempDir dir;
  std::ofstream(dir.File("q.db")) << std::string(4096, 'x');
  std::optional<DatabaseError> error = OpenQueueError(QueueAt(dir.File("q.db")));
  ASSERT_TRUE(error.has_value()) << "the queue opened";
  EXPECT_FALSE(error->transient()) << error->what();
  EXPECT_THAT(error->what(), HasSubstr("file is not a database"));
  EXPECT_THAT(error->what(), HasSubstr("[queue] path"));
}

// Root passes every permission check, so as root the open runs in a child
// process that has switched to uid 65534 (the user "nobody").
TEST(DatabaseTest, PermissionDeniedIsPermanent) {
  testing::TempDir dir;
  bool root = ::geteuid() == 0;
  if (!root) {
    ASSERT_EQ(::chmod(dir.path().c_str(), 0500), 0);
  }
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (root && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(10);
    std::optional<DatabaseError> error = OpenQueueError(QueueAt(dir.File("q.db")));
    if (!error) ::_exit(11);
    std::fprintf(stderr, "%s\n", error->what());
    ::_exit(error->transient() ? 12 : 0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  if (!root) ::chmod(dir.path().c_str(), 0700);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 10) << "setuid(65534) failed";
  EXPECT_NE(WEXITSTATUS(status), 11) << "the queue opened without write access";
  EXPECT_NE(WEXITSTATUS(status), 12) << "permission denied was called transient";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// Returns the names of every schema object in `path`, its user_version and
// its journal mode, to show that an open left a file as it was.
std::string DescribeFile(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  return db.execAndGet("SELECT coalesce(group_concat(name), '') FROM sqlite_master").getString() +
         " version=" + std::to_string(db.execAndGet("PRAGMA user_version").getInt()) +
         " journal=" + db.execAndGet("PRAGMA journal_mode").getString();
}

TEST(DatabaseTest, ForeignDatabaseRejectedUnchanged) {
  testing::TempDir dir;
  std::string path = dir.File("other.db");
  {
    SQLite::Database other(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    other.exec("CREATE TABLE foo (x)");
  }
  for (QueueOpenMode mode :
       {QueueOpenMode::kCreate, QueueOpenMode::kExisting, QueueOpenMode::kReadOnly}) {
    std::optional<DatabaseError> error = OpenQueueError(QueueAt(path), mode);
    ASSERT_TRUE(error.has_value()) << "the queue opened in mode " << static_cast<int>(mode);
    EXPECT_FALSE(error->transient()) << error->what();
    EXPECT_THAT(error->what(), HasSubstr(path + " is not an Intercom Connector queue"));
  }
  EXPECT_EQ(DescribeFile(path), "foo version=0 journal=delete");
}

// Another application's database is rejected and left unchanged even when
// that application sets user_version or application_id itself.
TEST(DatabaseTest, ForeignHeaderOrTablesRejectedUnchanged) {
  struct Case {
    std::string setup;     // SQL run on a new file
    std::string reason;    // part of the error
    std::string describe;  // DescribeFile afterwards
  };
  const Case cases[] = {
      {"CREATE TABLE foo (x); PRAGMA user_version = 1",
       "it has schema version 1 but no events table", "foo version=1 journal=delete"},
      {"PRAGMA application_id = 42", "its PRAGMA application_id is 42, not the queue's 1229156206",
       " version=0 journal=delete"},
      {"CREATE TABLE events (x); PRAGMA user_version = 3",
       "it has schema version 3 but no PRAGMA application_id", "events version=3 journal=delete"},
  };
  testing::TempDir dir;
  int index = 0;
  for (const Case& c : cases) {
    std::string path = dir.File("other" + std::to_string(index++) + ".db");
    {
      SQLite::Database other(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      other.exec(c.setup);
    }
    for (QueueOpenMode mode :
         {QueueOpenMode::kCreate, QueueOpenMode::kExisting, QueueOpenMode::kReadOnly}) {
      std::optional<DatabaseError> error = OpenQueueError(QueueAt(path), mode);
      ASSERT_TRUE(error.has_value()) << c.setup << ": opened in mode " << static_cast<int>(mode);
      EXPECT_FALSE(error->transient()) << error->what();
      EXPECT_THAT(error->what(), HasSubstr(path + " is not an Intercom Connector queue: " + c.reason));
    }
    EXPECT_EQ(DescribeFile(path), c.describe) << c.setup;
  }
}

TEST(DatabaseTest, QueueCarriesApplicationId) {
  testing::TempDir dir;
  std::string path = dir.File("q.db");
  {
    // A queue from before schema version 3 has no application_id yet.
    SQLite::Database old(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    for (const Migration& migration : Migrations()) {
      if (migration.version >= 3) break;
      old.exec(std::string(migration.sql));
      old.exec("PRAGMA user_version = " + std::to_string(migration.version));
    }
  }
  auto db = OpenQueue(QueueAt(path));
  EXPECT_EQ(SchemaVersion(*db), LatestSchemaVersion());
  EXPECT_EQ(db->execAndGet("PRAGMA application_id").getInt(), 0x49436F6E);

  auto created = OpenQueue(QueueAt(dir.File("new.db")));
  EXPECT_EQ(created->execAndGet("PRAGMA application_id").getInt(), 0x49436F6E);
}

TEST(DatabaseTest, EmptyFileBecomesQueueOnlyWhenCreating) {
  testing::TempDir dir;
  std::string path = dir.File("q.db");
  std::ofstream{path};
  for (QueueOpenMode mode : {QueueOpenMode::kExisting, QueueOpenMode::kReadOnly}) {
    std::optional<DatabaseError> error = OpenQueueError(QueueAt(path), mode);
    ASSERT_TRUE(error.has_value()) << "the queue opened in mode " << static_cast<int>(mode);
    EXPECT_FALSE(error->transient()) << error->what();
    EXPECT_THAT(error->what(), HasSubstr(path + " is empty, not an Intercom Connector queue"));
  }
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_size, 0);

  auto db = OpenQueue(QueueAt(path), QueueOpenMode::kCreate);
  EXPECT_EQ(SchemaVersion(*db), LatestSchemaVersion());
}

// Only a migration takes the write lock in kExisting and kReadOnly modes, so
// a connection in BEGIN IMMEDIATE does not stop either of them.
TEST(DatabaseTest, OpeningCurrentQueueNeedsNoWriteLock) {
  testing::TempDir dir;
  QueueConfig config = QueueAt(dir.File("q.db"));
  config.busy_timeout = Milliseconds(50);
  auto holder = OpenQueue(config);
  holder->exec("BEGIN IMMEDIATE");
  for (QueueOpenMode mode : {QueueOpenMode::kExisting, QueueOpenMode::kReadOnly}) {
    std::optional<DatabaseError> error = OpenQueueError(config, mode);
    EXPECT_FALSE(error.has_value()) << "mode " << static_cast<int>(mode) << ": " << error->what();
  }
  holder->exec("ROLLBACK");
}

TEST(DatabaseTest, ReadOnlyModeMigratesOlderQueue) {
  testing::TempDir dir;
  std::string path = dir.File("q.db");
  {
    SQLite::Database old(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    old.exec("PRAGMA journal_mode = WAL");
    old.exec(std::string(Migrations().front().sql));
    old.exec("PRAGMA user_version = " + std::to_string(Migrations().front().version));
  }
  ASSERT_LT(Migrations().front().version, LatestSchemaVersion());
  auto db = OpenQueue(QueueAt(path), QueueOpenMode::kReadOnly);
  EXPECT_EQ(SchemaVersion(*db), LatestSchemaVersion());
  EXPECT_EQ(sqlite3_db_readonly(db->getHandle(), "main"), 1);
  EXPECT_THROW(db->exec("DELETE FROM events"), SQLite::Exception);
}

// As root the open runs in a child process that has switched to uid 65534, as
// in PermissionDeniedIsPermanent. The child reports through its exit code: 0
// opened with one event, 11 a permanent error that names the -shm file, 15
// another permanent error, 12 a transient error, 13 a wrong count.
int OpenAsOtherUser(const QueueConfig& config, QueueOpenMode mode) {
  bool root = ::geteuid() == 0;
  pid_t child = ::fork();
  if (child < 0) return -1;
  if (child == 0) {
    if (root && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(10);
    try {
      auto db = OpenQueue(config, mode);
      ::_exit(db->execAndGet("SELECT count(*) FROM events").getInt() == 1 ? 0 : 13);
    } catch (const DatabaseError& error) {
      std::fprintf(stderr, "%s\n", error.what());
      if (error.transient()) ::_exit(12);
      ::_exit(std::string(error.what()).find("-shm") != std::string::npos ? 11 : 15);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "%s\n", error.what());
      ::_exit(14);
    }
  }
  int status = 0;
  if (::waitpid(child, &status, 0) != child || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// A user who can read the queue but not write it or its directory can open
// it while its -wal and -shm files exist. Without them SQLite 3.40 cannot open
// a WAL database there, and the error explains what to do.
TEST(DatabaseTest, UnwritableQueueOpensWhileShmExists) {
  testing::TempDir dir;
  QueueConfig config = QueueAt(dir.File("q.db"));
  auto writer = OpenQueue(config);
  writer->exec("INSERT INTO events (uuid, event, distinct_id, payload, received_at_ms, "
               "created_at, next_attempt_at_ms, updated_at_ms) "
               "VALUES ('u', 'e', 'd', '{}', 0, 0, 0, 0)");
  for (const char* name : {"q.db", "q.db-wal", "q.db-shm"}) {
    ASSERT_EQ(::chmod(dir.File(name).c_str(), 0444), 0) << name;
  }
  ASSERT_EQ(::chmod(dir.path().c_str(), 0555), 0);

  int read_only = OpenAsOtherUser(config, QueueOpenMode::kReadOnly);
  int existing = OpenAsOtherUser(config, QueueOpenMode::kExisting);

  // Without the -shm file SQLite cannot open it, and the error explains why.
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  writer.reset();
  ASSERT_EQ(::chmod(dir.path().c_str(), 0555), 0);
  bool shm_gone = ::access(dir.File("q.db-shm").c_str(), F_OK) != 0;
  int without_shm = OpenAsOtherUser(config, QueueOpenMode::kReadOnly);
  ::chmod(dir.path().c_str(), 0700);

  EXPECT_NE(read_only, 10) << "setuid(65534) failed";
  EXPECT_EQ(read_only, 0) << "kReadOnly";
  EXPECT_EQ(existing, 0) << "kExisting";
  EXPECT_TRUE(shm_gone);
  EXPECT_EQ(without_shm, 11) << "expected a permanent error that explains the -shm file";
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
  std::optional<DatabaseError> error = OpenQueueError(QueueAt("/nonexistent-dir/q.db"));
  ASSERT_TRUE(error.has_value()) << "the queue opened";
  EXPECT_NE(std::string(error->what()).find("/nonexistent-dir/q.db"), std::string::npos);
  EXPECT_FALSE(error->transient()) << error->what();
}

}  // namespace
}  // namespace connector
