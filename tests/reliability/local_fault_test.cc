// Local faults under the real binaries: a full disk under the queue, another
// process holding the write lock for seconds, and WAL growth under sustained
// ingest load with a reader that keeps a connection open.

#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>

#include "common/database.h"
#include "tests/ingest/test_helpers.h"
#include "tests/reliability/process.h"
#include "tests/support/small_disk.h"
#include "tests/worker/worker_fixture.h"

namespace connector {
namespace {

using testing::ChildProcess;
using testing::HttpResult;
using testing::SendRequest;
using testing::SmallDisk;

std::string IngestConfig(const std::string& db_path, const std::string& extra = "") {
  return "[queue]\npath = \"" + db_path + "\"\n[ingest]\nlisten = \"127.0.0.1:0\"\n" + extra;
}

// A batch of `count` events whose uuids start with the 8 hex digits of
// `prefix`, each with a property of `padding` bytes so the batch needs real
// space in the WAL.
std::string Batch(const std::string& prefix, int count, size_t padding) {
  std::string body = R"({"api_key":"phc_local","batch":[)";
  for (int i = 0; i < count; ++i) {
    char uuid[40];
    std::snprintf(uuid, sizeof(uuid), "%s-0000-7000-8000-%012d", prefix.c_str(), i);
    if (i > 0) body += ",";
    body += R"({"event":"$identify","distinct_id":"user)" + std::to_string(i) +
            R"(","uuid":")" + uuid + R"(","properties":{"padding":")" +
            std::string(padding, 'p') + R"("}})";
  }
  return body + "]}";
}

int64_t CountRows(const std::string& db_path, const std::string& sql) {
  SQLite::Database db(db_path, SQLite::OPEN_READONLY);
  return db.execAndGet(sql).getInt64();
}

// Truncates the WAL, so the next write has to grow the file again. Waits up
// to 5 s for readers, and fails the test when the checkpoint stays blocked.
void TruncateWal(const std::string& db_path) {
  SQLite::Database db(db_path, SQLite::OPEN_READWRITE);
  db.setBusyTimeout(5000);
  EXPECT_EQ(db.execAndGet("PRAGMA wal_checkpoint(TRUNCATE)").getInt(), 0)
      << "a reader kept the WAL from being truncated";
}

// CPU time (user + system) the process has used, in clock ticks.
int64_t CpuTicks(pid_t pid) {
  std::string stat = testing::ReadWholeFile("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  int64_t utime = 0;
  int64_t stime = 0;
  // Fields 14 and 15 of proc(5); the stream starts at field 3.
  for (int index = 3; index <= 15 && fields >> field; ++index) {
    if (index == 14) utime = std::stoll(field);
    if (index == 15) stime = std::stoll(field);
  }
  return utime + stime;
}

int64_t FileSize(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? static_cast<int64_t>(info.st_size) : 0;
}

// Loads ingest from 4 client threads, with `reader_step` called in a loop
// beside them, until `done` returns true or 60 s pass. Returns the largest
// WAL size seen, sampled every 10 ms.
int64_t MaxWalUnderLoad(int port, const std::string& db_path, int phase,
                        const std::function<void()>& reader_step,
                        const std::function<bool(int64_t max_wal)>& done) {
  std::atomic<bool> stopping{false};
  std::vector<std::thread> clients;
  for (int client = 0; client < 4; ++client) {
    clients.emplace_back([&, client] {
      for (int batch = 0; !stopping; ++batch) {
        // The first uuid group, 8 hex digits: phase, client and batch number.
        char id[16];
        std::snprintf(id, sizeof(id), "%x%07x", phase, client * 0x100000 + batch);
        std::string body = Batch(id, 20, 1024);
        SendRequest(port, "POST", "/batch/", body);
      }
    });
  }
  std::thread reader([&] {
    while (!stopping) reader_step();
  });
  int64_t max_wal = 0;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < end && !done(max_wal)) {
    max_wal = std::max(max_wal, FileSize(db_path + "-wal"));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stopping = true;
  for (std::thread& client : clients) client.join();
  reader.join();
  return max_wal;
}

// SQLite resets the WAL after a checkpoint that copied every frame, and a
// checkpoint can copy only frames older than the oldest open read
// transaction (sqlite.org/wal.html, "Avoiding Excessively Large WAL Files").
// So a reader that keeps its connection but ends each read transaction
// quickly leaves the WAL near wal_autocheckpoint (1000 pages, 4 MiB) plus the
// transactions in flight. A reader that pins one snapshot lets it grow until
// that read ends.
TEST(WalGrowth, BoundedWithLongLivedReader) {
  testing::TempDir dir;
  std::string db_path = dir.File("queue.db");
  std::ofstream(dir.File("ingest.toml")) << IngestConfig(db_path);
  std::string log_path = dir.File("ingest.log");
  ChildProcess ingest({testing::BuiltBinary("ingest/intercom-ingest"), "--config",
                       dir.File("ingest.toml")},
                      log_path);
  int port = testing::WaitForListeningPort(log_path, std::chrono::seconds(10));
  ASSERT_GT(port, 0) << testing::ReadWholeFile(log_path);

  // Phase 1: one connection for the whole phase, short read transactions,
  // until 4 times the bound has gone through the WAL into the database.
  constexpr int64_t kBound = 16 << 20;
  SQLite::Database reader(db_path, SQLite::OPEN_READONLY);
  int64_t reads = 0;
  auto reader_step = [&] {
    reader.exec("BEGIN");
    reader.execAndGet("SELECT COUNT(*) FROM events WHERE state = 'pending'");
    reader.exec("COMMIT");
    ++reads;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  int64_t bounded_wal = MaxWalUnderLoad(port, db_path, 0xa, reader_step, [&](int64_t) {
    return FileSize(db_path) >= 4 * kBound;
  });
  int64_t events_after_bounded = CountRows(db_path, "SELECT COUNT(*) FROM events");
  int64_t db_size = FileSize(db_path);

  // Phase 2: the same reader pins one snapshot until the WAL passes twice
  // the bound, which shows that nothing else limits it.
  std::atomic<bool> pinned{false};
  auto pinning_step = [&] {
    if (!pinned) {
      reader.exec("BEGIN");
      reader.execAndGet("SELECT COUNT(*) FROM events");
      pinned = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  int64_t pinned_wal = MaxWalUnderLoad(port, db_path, 0xb, pinning_step,
                                       [&](int64_t max_wal) { return max_wal > 2 * kBound; });
  reader.exec("COMMIT");

  // Once the reader lets go, a TRUNCATE checkpoint empties the WAL.
  ChildProcess check({testing::BuiltBinary("tools/intercom-queue"), "--db", db_path, "check",
                      "--truncate"},
                     dir.File("check.log"));
  EXPECT_EQ(check.WaitForExit(std::chrono::seconds(30)), 0)
      << testing::ReadWholeFile(dir.File("check.log"));
  int64_t wal_after_check = FileSize(db_path + "-wal");

  std::cout << "wal: short reads=" << reads << " events=" << events_after_bounded
            << " db_bytes=" << db_size << " max_wal_bytes=" << bounded_wal
            << " | pinned snapshot max_wal_bytes=" << pinned_wal
            << " | after check --truncate wal_bytes=" << wal_after_check << "\n";
  EXPECT_GE(db_size, 4 * kBound) << "the load was too light to test the bound";
  EXPECT_LT(bounded_wal, kBound);
  EXPECT_GT(reads, 100);
  EXPECT_GT(pinned_wal, 2 * kBound);
  EXPECT_EQ(wal_after_check, 0);
}

TEST(DiskFull, IngestAnswers503ThenRecovers) {
  testing::TempDir dir;
  SmallDisk disk(dir.File("mnt"), 4);
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << disk.error();
  std::string db_path = dir.File("mnt/queue.db");
  std::ofstream(dir.File("ingest.toml")) << IngestConfig(db_path);
  std::string log_path = dir.File("ingest.log");
  ChildProcess ingest({testing::BuiltBinary("ingest/intercom-ingest"), "--config",
                       dir.File("ingest.toml")},
                      log_path);
  int port = testing::WaitForListeningPort(log_path, std::chrono::seconds(10));
  ASSERT_GT(port, 0) << testing::ReadWholeFile(log_path);
  ASSERT_EQ(SendRequest(port, "POST", "/batch/", Batch("00000001", 1, 10)).status, 200);
  TruncateWal(db_path);

  ASSERT_GT(disk.Fill(), 0);
  std::string batch = Batch("00000002", 20, 8192);
  HttpResult full = SendRequest(port, "POST", "/batch/", batch);
  EXPECT_EQ(full.status, 503) << full.body;
  EXPECT_EQ(full.headers["Retry-After"], "1");
  EXPECT_NE(full.body.find("queue_unavailable"), std::string::npos) << full.body;
  EXPECT_EQ(CountRows(db_path, "SELECT COUNT(*) FROM events"), 1);
  EXPECT_NE(testing::ReadWholeFile(log_path).find("full"), std::string::npos)
      << "the log should name the full disk:\n" << testing::ReadWholeFile(log_path);

  // Space returns: the same request is accepted whole, with no restart.
  disk.Free();
  HttpResult recovered = SendRequest(port, "POST", "/batch/", batch);
  EXPECT_EQ(recovered.status, 200) << recovered.body;
  EXPECT_EQ(CountRows(db_path, "SELECT COUNT(*) FROM events"), 21);
  EXPECT_EQ(CountRows(db_path, "SELECT COUNT(*) FROM pragma_integrity_check WHERE "
                               "integrity_check = 'ok'"),
            1);
}

class LocalFaultWorker : public testing::WorkerFixture {
 protected:
  void InsertEvents(int count) {
    for (int i = 0; i < count; ++i) {
      testing::TestEvent event;
      event.distinct_id = "user" + std::to_string(i) + "@example.com";
      Insert(event);
    }
  }
};

TEST_F(LocalFaultWorker, DiskFullNeitherSpinsNorFloodsLog) {
  SmallDisk disk(dir_.File("mnt"), 4);
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << disk.error();
  config_.queue.path = dir_.File("mnt/queue.db");
  db_ = OpenQueue(config_.queue);
  // The events come due only once the disk is full, so the running worker
  // meets the full disk at its next claim. (FullDiskAtStartWaitsThenDelivers
  // starts the worker on a disk that is already full.)
  InsertEvents(10);
  db_->exec("UPDATE events SET next_attempt_at_ms = " +
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count() +
                           2000));
  std::string log_path = dir_.File("worker.log");
  ChildProcess worker({testing::BuiltBinary("worker/intercom-worker"), "--config",
                       WriteConfigFile()},
                      log_path);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  TruncateWal(config_.queue.path);
  ASSERT_GT(disk.Fill(), 0);
  int64_t ticks_before = CpuTicks(worker.pid());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));

  constexpr int kFullSeconds = 3;
  std::this_thread::sleep_for(std::chrono::seconds(kFullSeconds));
  int64_t ticks = CpuTicks(worker.pid()) - ticks_before;
  std::string log = testing::ReadWholeFile(log_path);
  size_t error_lines = testing::CountOccurrences(log, "level=error");
  std::cout << "disk full: worker cpu_ms=" << ticks * 1000 / ::sysconf(_SC_CLK_TCK)
            << " error_lines=" << error_lines << " in " << kFullSeconds
            << " s after the events came due\n";
  // A spinning loop would use most of a core, and a flood would log hundreds
  // of lines.
  EXPECT_LT(ticks * 1000 / ::sysconf(_SC_CLK_TCK), 1000) << log;
  EXPECT_LE(error_lines, static_cast<size_t>(2 * kFullSeconds + 2)) << log;
  EXPECT_GE(error_lines, 1u) << "the worker should say why it cannot claim:\n" << log;

  EXPECT_EQ(fake_.RequestCount(), 0u);

  disk.Free();
  EXPECT_TRUE(WaitFor(
      [&] { return Count("SELECT COUNT(*) FROM events WHERE state = 'delivered'") == 10; },
      std::chrono::seconds(15)))
      << testing::ReadWholeFile(log_path);
  EXPECT_EQ(worker.Terminate(std::chrono::seconds(5)), 0);
  EXPECT_EQ(fake_.RequestCount(), 10u);
}

TEST_F(LocalFaultWorker, FullDiskAtStartWaitsThenDelivers) {
  SmallDisk disk(dir_.File("mnt"), 4);
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << disk.error();
  config_.queue.path = dir_.File("mnt/queue.db");
  db_ = OpenQueue(config_.queue);
  InsertEvents(10);
  // Closing the last connection deletes the -shm file, so the worker has to
  // create and size it on the full disk.
  db_.reset();
  ASSERT_FALSE(std::filesystem::exists(config_.queue.path + "-shm"));
  ASSERT_GT(disk.Fill(), 0);

  std::string log_path = dir_.File("worker.log");
  ChildProcess worker({testing::BuiltBinary("worker/intercom-worker"), "--config",
                       WriteConfigFile()},
                      log_path);
  EXPECT_EQ(worker.WaitForExit(std::chrono::seconds(3)), -1)
      << "the worker exited on the full disk:\n" << testing::ReadWholeFile(log_path);
  std::string log = testing::ReadWholeFile(log_path);
  std::cout << "full disk at start: error_lines=" << testing::CountOccurrences(log, "level=error")
            << " in 3 s\n";
  EXPECT_EQ(testing::CountOccurrences(log, "msg=queue_unavailable"), 1u) << log;
  EXPECT_EQ(testing::CountOccurrences(log, "level=error"), 1u) << log;
  EXPECT_NE(log.find("No space left on device"), std::string::npos) << log;
  EXPECT_EQ(fake_.RequestCount(), 0u);

  disk.Free();
  db_ = OpenQueue(config_.queue);
  EXPECT_TRUE(WaitFor(
      [&] { return Count("SELECT COUNT(*) FROM events WHERE state = 'delivered'") == 10; },
      std::chrono::seconds(15)))
      << testing::ReadWholeFile(log_path);
  log = testing::ReadWholeFile(log_path);
  EXPECT_EQ(testing::CountOccurrences(log, "msg=queue_available"), 1u) << log;
  EXPECT_EQ(worker.Terminate(std::chrono::seconds(5)), 0);
  EXPECT_EQ(fake_.RequestCount(), 10u);
}

// Starts `sqlite3` holding the write lock (BEGIN IMMEDIATE) on `db_path` for
// `seconds`, and returns once the lock is held.
std::unique_ptr<ChildProcess> HoldWriteLock(const std::string& db_path, int seconds,
                                            const std::string& log_path) {
  auto holder = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/sqlite3", db_path, ".timeout 10000", "BEGIN IMMEDIATE",
                               "INSERT INTO event_history (event_id, at_ms, action) "
                               "SELECT id, 0, 'lock_test' FROM events LIMIT 1",
                               ".system sleep " + std::to_string(seconds), "ROLLBACK"},
      log_path);
  SQLite::Database probe(db_path, SQLite::OPEN_READWRITE);
  for (int i = 0; i < 500; ++i) {
    try {
      probe.exec("BEGIN IMMEDIATE");
      probe.exec("ROLLBACK");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } catch (const SQLite::Exception&) {
      return holder;  // SQLITE_BUSY: the holder has it
    }
  }
  ADD_FAILURE() << "sqlite3 never took the write lock: " << testing::ReadWholeFile(log_path);
  return holder;
}

TEST_F(LocalFaultWorker, HeldWriteLockEveryoneWaits) {
  constexpr int kLockSeconds = 3;
  ASSERT_EQ(::access("/usr/bin/sqlite3", X_OK), 0) << "the sqlite3 shell is missing";
  // Event 1 is failed, so only intercom-queue touches it, and 2 to 6 are for the worker.
  testing::TestEvent failed;
  failed.distinct_id = "failed@example.com";
  failed.state = "failed";
  ASSERT_EQ(Insert(failed), 1);
  InsertEvents(5);
  std::ofstream(dir_.File("ingest.toml")) << IngestConfig(config_.queue.path);
  std::string ingest_log = dir_.File("ingest.log");
  ChildProcess ingest({testing::BuiltBinary("ingest/intercom-ingest"), "--config",
                       dir_.File("ingest.toml")},
                      ingest_log);
  int port = testing::WaitForListeningPort(ingest_log, std::chrono::seconds(10));
  ASSERT_GT(port, 0) << testing::ReadWholeFile(ingest_log);

  auto holder = HoldWriteLock(config_.queue.path, kLockSeconds, dir_.File("sqlite3.log"));
  auto locked_at = std::chrono::steady_clock::now();

  // All three start while the lock is held; the default busy_timeout (5 s)
  // outlasts it.
  ChildProcess worker({testing::BuiltBinary("worker/intercom-worker"), "--config",
                       WriteConfigFile()},
                      dir_.File("worker.log"));
  ChildProcess skip({testing::BuiltBinary("tools/intercom-queue"), "--db", config_.queue.path,
                     "skip", "1", "--reason", "lock test"},
                    dir_.File("queue.log"));
  HttpResult capture = SendRequest(port, "POST", "/batch/", Batch("00000003", 3, 10));
  double waited_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - locked_at)
                        .count();

  EXPECT_EQ(capture.status, 200) << capture.body;
  EXPECT_GT(waited_s, kLockSeconds - 1.0) << "ingest answered while the lock was held";
  EXPECT_EQ(skip.WaitForExit(std::chrono::seconds(10)), 0)
      << testing::ReadWholeFile(dir_.File("queue.log"));
  EXPECT_EQ(holder->WaitForExit(std::chrono::seconds(10)), 0)
      << testing::ReadWholeFile(dir_.File("sqlite3.log"));
  ASSERT_TRUE(WaitFor(
      [&] { return Count("SELECT COUNT(*) FROM events WHERE state = 'delivered'") == 5; },
      std::chrono::seconds(15)))
      << testing::ReadWholeFile(dir_.File("worker.log"));
  EXPECT_EQ(Read(1).state, "skipped");
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events"), 9);
  // The three ingested events have no email, so the worker skips them.
  EXPECT_TRUE(WaitFor([&] {
    return Count("SELECT COUNT(*) FROM events WHERE state = 'skipped'") == 4;
  }));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM event_history WHERE action = 'lock_test'"), 0);
  std::string worker_log = testing::ReadWholeFile(dir_.File("worker.log"));
  EXPECT_EQ(worker_log.find("level=error"), std::string::npos) << worker_log;
  EXPECT_EQ(worker.Terminate(std::chrono::seconds(5)), 0);
}

}  // namespace
}  // namespace connector
