// A worker started while the queue cannot be written: it waits with a
// bounded backoff, logs once, stops at once on SIGTERM and delivers when the
// queue recovers. Errors that need an operator still stop it with exit 2.

#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <SQLiteCpp/Database.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/database.h"
#include "tests/reliability/process.h"
#include "tests/support/page_limit.h"
#include "tests/worker/fakes.h"
#include "tests/worker/worker_fixture.h"
#include "worker/worker.h"

namespace connector {
namespace {

using ::testing::HasSubstr;
using testing::ChildProcess;
using testing::CountOccurrences;
using testing::ReadWholeFile;
using testing::TestEvent;

constexpr int64_t kStart = 1'700'000'000'000;

// Collects every log line in place of the root logger's channel while it
// lives. Thread-safe: the worker logs from its own threads.
class LogCapture : public Poco::Channel {
 public:
  void log(const Poco::Message& message) override {
    std::lock_guard<std::mutex> lock(mutex_);
    text_ += message.getText() + "\n";
  }
  std::string Text() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return text_;
  }

 private:
  mutable std::mutex mutex_;
  std::string text_;
};

class WorkerStartTest : public testing::WorkerFixture {
 protected:
  void SetUp() override {
    Poco::Logger& root = Poco::Logger::root();
    previous_channel_ = root.getChannel();
    previous_level_ = root.getLevel();
    root.setChannel(log_);
    root.setLevel(Poco::Message::PRIO_INFORMATION);
  }
  void TearDown() override {
    Poco::Logger& root = Poco::Logger::root();
    root.setChannel(previous_channel_);
    root.setLevel(previous_level_);
  }

  void InsertEvents(int count) {
    for (int i = 0; i < count; ++i) {
      TestEvent event;
      event.distinct_id = "user" + std::to_string(i) + "@example.com";
      Insert(event);
    }
  }

  // Starts intercom-worker on WriteConfigFile() with its output in worker.log.
  std::unique_ptr<ChildProcess> StartWorkerProcess() {
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{testing::BuiltBinary("worker/intercom-worker"), "--config",
                                 WriteConfigFile()},
        LogPath());
  }
  std::string LogPath() { return dir_.File("worker.log"); }

  Poco::AutoPtr<LogCapture> log_{new LogCapture};

 private:
  Poco::Channel::Ptr previous_channel_;
  int previous_level_ = Poco::Message::PRIO_INFORMATION;
};

// The page limit fails the first migration of a new queue with SQLITE_FULL,
// as a full disk does.
TEST_F(WorkerStartTest, WaitsWhileQueueFullThenDelivers) {
  config_.queue.path = dir_.File("new-queue.db");
  testing::PageLimit limit(1);
  testing::FakeClock clock(kStart);
  testing::FixedRandom random(0.5);
  Worker worker(config_, clock, random);

  // The test's stop request plays the part of SIGTERM.
  std::mutex mutex;
  std::condition_variable stop_requested;
  bool stopping = false;
  RetryWait wait = [&](Milliseconds delay) {
    std::unique_lock<std::mutex> lock(mutex);
    return !stop_requested.wait_for(lock, delay, [&] { return stopping; });
  };
  enum Outcome { kWaiting, kStarted, kGaveUp, kThrew };
  std::atomic<Outcome> outcome{kWaiting};
  std::string error;
  std::thread starter([&] {
    try {
      outcome = worker.StartWhenQueueWritable(wait) ? kStarted : kGaveUp;
    } catch (const std::exception& exception) {
      error = exception.what();
      outcome = kThrew;
    }
  });
  auto stop_starter = [&] {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    stop_requested.notify_all();
    starter.join();
  };

  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  Outcome while_full = outcome;
  if (while_full != kWaiting) stop_starter();
  ASSERT_EQ(while_full, kWaiting) << "the worker gave up on a full queue: " << error << "\n"
                                  << log_->Text();
  std::string log = log_->Text();
  EXPECT_EQ(CountOccurrences(log, "msg=queue_unavailable"), 1u) << log;
  EXPECT_THAT(log, HasSubstr("database or disk is full"));
  EXPECT_EQ(CountOccurrences(log, "msg=worker_started"), 0u) << log;

  limit.Lift();
  bool started = WaitFor([&] { return outcome != kWaiting; });
  stop_starter();
  ASSERT_TRUE(started) << "the worker did not start within 10 s of the space returning";
  ASSERT_EQ(outcome, kStarted) << error;
  log = log_->Text();
  EXPECT_EQ(CountOccurrences(log, "msg=queue_unavailable"), 1u) << "one line per retry:\n" << log;
  EXPECT_EQ(CountOccurrences(log, "msg=queue_available"), 1u) << log;

  // The worker created the schema once it could, and now delivers.
  db_ = OpenQueue(config_.queue);
  TestEvent event;
  event.next_attempt_at_ms = kStart;
  int64_t id = Insert(event);
  EXPECT_TRUE(WaitForState(id, "delivered")) << Read(id).state;
  EXPECT_EQ(fake_.RequestCount(), 1u);
  worker.Stop();
}

// A lock held past busy_timeout fails the migration check with SQLITE_BUSY.
TEST_F(WorkerStartTest, HeldLockThenDelivers) {
  InsertEvents(3);
  config_.queue.busy_timeout = Milliseconds(100);
  SQLite::Database holder(config_.queue.path, SQLite::OPEN_READWRITE);
  holder.exec("BEGIN IMMEDIATE");
  std::unique_ptr<ChildProcess> worker = StartWorkerProcess();

  EXPECT_EQ(worker->WaitForExit(std::chrono::milliseconds(1500)), -1)
      << "the worker exited while the lock was held:\n" << ReadWholeFile(LogPath());
  std::string log = ReadWholeFile(LogPath());
  EXPECT_EQ(CountOccurrences(log, "msg=queue_unavailable"), 1u) << log;
  EXPECT_THAT(log, HasSubstr("database is locked"));
  EXPECT_EQ(fake_.RequestCount(), 0u);

  holder.exec("ROLLBACK");
  EXPECT_TRUE(WaitFor(
      [&] { return Count("SELECT COUNT(*) FROM events WHERE state = 'delivered'") == 3; }))
      << ReadWholeFile(LogPath());
  log = ReadWholeFile(LogPath());
  EXPECT_EQ(CountOccurrences(log, "msg=queue_unavailable"), 1u) << log;
  EXPECT_EQ(CountOccurrences(log, "msg=queue_available"), 1u) << log;
  EXPECT_EQ(worker->Terminate(std::chrono::seconds(5)), 0);
  EXPECT_EQ(fake_.RequestCount(), 3u);
}

TEST_F(WorkerStartTest, SigtermWhileWaitingExitsAtOnce) {
  config_.queue.busy_timeout = Milliseconds(100);
  SQLite::Database holder(config_.queue.path, SQLite::OPEN_READWRITE);
  holder.exec("BEGIN IMMEDIATE");
  std::unique_ptr<ChildProcess> worker = StartWorkerProcess();
  ASSERT_TRUE(WaitFor([&] {
    return ReadWholeFile(LogPath()).find("msg=queue_unavailable") != std::string::npos;
  })) << ReadWholeFile(LogPath());
  // By now the backoff has grown to 1 s, so SIGTERM arrives with most of a
  // second's wait left, and only a wait that SIGTERM ends is over within
  // 500 ms.
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  ASSERT_EQ(worker->WaitForExit(std::chrono::milliseconds(0)), -1) << ReadWholeFile(LogPath());
  ASSERT_GT(worker->pid(), 0);

  auto signalled_at = std::chrono::steady_clock::now();
  ::kill(worker->pid(), SIGTERM);
  int code = worker->WaitForExit(std::chrono::seconds(5));
  auto took = std::chrono::steady_clock::now() - signalled_at;
  EXPECT_EQ(code, 0) << ReadWholeFile(LogPath());
  EXPECT_LT(took, std::chrono::milliseconds(500));
  EXPECT_THAT(ReadWholeFile(LogPath()), HasSubstr("msg=signal signal=SIGTERM"));
  holder.exec("ROLLBACK");
}

TEST_F(WorkerStartTest, MissingDirectoryExitsTwo) {
  config_.queue.path = dir_.File("no-such-directory/queue.db");
  std::unique_ptr<ChildProcess> worker = StartWorkerProcess();
  EXPECT_EQ(worker->WaitForExit(std::chrono::seconds(5)), 2) << ReadWholeFile(LogPath());
  std::string log = ReadWholeFile(LogPath());
  EXPECT_THAT(log, HasSubstr("no-such-directory/queue.db: No such file or directory"));
  EXPECT_EQ(CountOccurrences(log, "msg=queue_unavailable"), 0u) << log;
}

}  // namespace
}  // namespace connector
