// The real intercom-ingest binary started while the queue cannot be written:
// it waits with a bounded backoff, logs once, stops at once on SIGTERM and
// accepts events when the queue recovers. Errors that need an operator still
// stop it with exit code 2.

#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "common/database.h"
#include "tests/ingest/test_helpers.h"
#include "tests/reliability/process.h"
#include "tests/support/temp_dir.h"

namespace connector {
namespace {

using testing::ChildProcess;
using testing::CountOccurrences;
using testing::ReadWholeFile;

class IngestStartTest : public ::testing::Test {
 protected:
  // Writes a configuration for a queue at `queue_path` with a 100 ms
  // busy_timeout and no metrics server, and starts intercom-ingest on it.
  std::unique_ptr<ChildProcess> StartIngest(const std::string& queue_path) {
    std::string config_path = dir_.File("ingest.toml");
    std::ofstream(config_path) << "[queue]\npath = \"" << queue_path << "\"\n"
                               << "busy_timeout = \"100ms\"\n"
                               << "[ingest]\nlisten = \"127.0.0.1:0\"\nmetrics_listen = \"\"\n";
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{testing::BuiltBinary("ingest/intercom-ingest"), "--config",
                                 config_path},
        LogPath());
  }

  std::string LogPath() { return dir_.File("ingest.log"); }
  std::string Log() { return ReadWholeFile(LogPath()); }

  // Creates the queue and holds its write lock, so that opening it fails
  // with SQLITE_BUSY once busy_timeout passes.
  std::unique_ptr<SQLite::Database> HoldWriteLock(const std::string& queue_path) {
    QueueConfig queue;
    queue.path = queue_path;
    OpenQueue(queue);
    auto holder = std::make_unique<SQLite::Database>(queue_path, SQLite::OPEN_READWRITE);
    holder->exec("BEGIN IMMEDIATE");
    return holder;
  }

  // Waits up to 10 s until the log contains `text`.
  bool WaitForLog(const std::string& text) {
    for (int i = 0; i < 500; ++i) {
      if (Log().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  testing::TempDir dir_;
};

TEST_F(IngestStartTest, HeldLockThenAcceptsEvents) {
  std::string queue_path = dir_.File("queue.db");
  std::unique_ptr<SQLite::Database> holder = HoldWriteLock(queue_path);
  std::unique_ptr<ChildProcess> ingest = StartIngest(queue_path);

  EXPECT_EQ(ingest->WaitForExit(std::chrono::milliseconds(1500)), -1)
      << "ingest exited while the lock was held:\n" << Log();
  std::string log = Log();
  EXPECT_EQ(CountOccurrences(log, "msg=queue_unavailable"), 1u) << log;
  EXPECT_NE(log.find("database is locked"), std::string::npos) << log;
  EXPECT_EQ(CountOccurrences(log, "msg=listening"), 0u) << log;

  holder->exec("ROLLBACK");
  int port = testing::WaitForListeningPort(LogPath(), std::chrono::seconds(10));
  ASSERT_GT(port, 0) << "ingest did not start within 10 s of the lock's release:\n" << Log();
  testing::HttpResult result = testing::SendRequest(
      port, "POST", "/e/", R"({"event":"after_wait","distinct_id":"d"})",
      {{"Content-Type", "application/json"}});
  EXPECT_EQ(result.status, 200) << result.body;
  EXPECT_EQ(testing::CountEvents(*holder), 1);

  log = Log();
  EXPECT_EQ(CountOccurrences(log, "msg=queue_unavailable"), 1u) << "one line per retry:\n" << log;
  EXPECT_EQ(CountOccurrences(log, "msg=queue_available"), 1u) << log;
  EXPECT_EQ(ingest->Terminate(std::chrono::seconds(10)), 0) << Log();
}

TEST_F(IngestStartTest, SigtermWhileWaitingExitsZero) {
  std::string queue_path = dir_.File("queue.db");
  std::unique_ptr<SQLite::Database> holder = HoldWriteLock(queue_path);
  std::unique_ptr<ChildProcess> ingest = StartIngest(queue_path);
  ASSERT_TRUE(WaitForLog("msg=queue_unavailable")) << Log();
  // By now the backoff has grown to 1 s, so SIGTERM arrives with most of a
  // second's wait left, and only a wait that SIGTERM ends is over within
  // 500 ms.
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  ASSERT_EQ(ingest->WaitForExit(std::chrono::milliseconds(0)), -1) << Log();
  // pid() is -1 once the process is reaped, and kill(-1, ...) would signal
  // every process the test may signal.
  ASSERT_GT(ingest->pid(), 0);

  auto signalled_at = std::chrono::steady_clock::now();
  ::kill(ingest->pid(), SIGTERM);
  int code = ingest->WaitForExit(std::chrono::seconds(5));
  auto took = std::chrono::steady_clock::now() - signalled_at;
  EXPECT_EQ(code, 0) << Log();
  EXPECT_LT(took, std::chrono::milliseconds(500));
  EXPECT_NE(Log().find("msg=stopping signal=SIGTERM"), std::string::npos) << Log();
  holder->exec("ROLLBACK");
}

TEST_F(IngestStartTest, MissingDirectoryExitsTwo) {
  std::unique_ptr<ChildProcess> ingest = StartIngest(dir_.File("no-such-directory/queue.db"));
  EXPECT_EQ(ingest->WaitForExit(std::chrono::seconds(10)), 2) << Log();
  std::string log = Log();
  EXPECT_NE(log.find("no-such-directory/queue.db: No such file or directory"), std::string::npos)
      << log;
  EXPECT_EQ(CountOccurrences(log, "msg=queue_unavailable"), 0u) << log;
}

}  // namespace
}  // namespace connector
