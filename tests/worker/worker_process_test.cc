// The intercom-worker binary as a process: lease expiry after SIGKILL, two
// workers on one database, and a clean exit on SIGTERM.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/worker/worker_fixture.h"

namespace connector {
namespace {

using testing::FakeResponse;
using testing::TestEvent;

std::string WorkerBinary() {
  const char* build_dir = std::getenv("CONNECTOR_BUILD_DIR");
  return std::string(build_dir != nullptr ? build_dir : ".") + "/worker/intercom-worker";
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A running intercom-worker; killed with SIGKILL if the test did not stop it.
class WorkerProcess {
 public:
  WorkerProcess(const std::string& config_path, const std::string& log_path) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::unsetenv("INTERCOM_API_KEY");
      FILE* log = std::freopen(log_path.c_str(), "a", stderr);
      (void)log;
      std::string binary = WorkerBinary();
      ::execl(binary.c_str(), binary.c_str(), "--config", config_path.c_str(), "--log-level",
              "debug", static_cast<char*>(nullptr));
      std::_Exit(127);
    }
  }
  ~WorkerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  void Kill() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // Sends SIGTERM and returns the exit code, or -1 when it did not exit
  // normally within `timeout`.
  int Terminate(std::chrono::milliseconds timeout) {
    ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
};

class WorkerProcessTest : public testing::WorkerFixture {
 protected:
  int64_t InsertFor(const std::string& email) {
    TestEvent event;
    event.distinct_id = email;
    event.next_attempt_at_ms = NowMs();
    event.updated_at_ms = NowMs();
    return Insert(event);
  }
};

TEST_F(WorkerProcessTest, PrintsHelpAndVersion) {
  std::string command = WorkerBinary() + " --version";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[128] = {0};
  ASSERT_NE(std::fgets(buffer, sizeof(buffer), pipe), nullptr);
  EXPECT_EQ(::pclose(pipe), 0);
  EXPECT_EQ(std::string(buffer).rfind("intercom-worker ", 0), 0u);
  EXPECT_EQ(std::system((WorkerBinary() + " --help > /dev/null").c_str()), 0);
  EXPECT_NE(std::system((WorkerBinary() + " --bogus 2> /dev/null").c_str()), 0);
}

TEST_F(WorkerProcessTest, KilledWorkerLeaseExpires) {
  config_.worker.lease = Milliseconds(1000);
  config_.intercom.request_timeout = Milliseconds(500);
  config_.worker.concurrency = 1;
  FakeResponse hang;
  hang.delay = Milliseconds(3000);
  fake_.Enqueue(hang);
  int64_t id = InsertFor("ann@example.com");
  std::string config_path = WriteConfigFile();

  {
    WorkerProcess first(config_path, dir_.File("first.log"));
    ASSERT_TRUE(fake_.WaitForRequests(1, std::chrono::seconds(10)));
    first.Kill();
  }
  EXPECT_EQ(Read(id).state, "leased");

  WorkerProcess second(config_path, dir_.File("second.log"));
  ASSERT_TRUE(WaitForState(id, "delivered", std::chrono::seconds(10)));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM event_history WHERE action = 'lease_expired'"), 1);
  EXPECT_EQ(fake_.RequestCount(), 2u);
  EXPECT_EQ(second.Terminate(std::chrono::seconds(5)), 0);
}

TEST_F(WorkerProcessTest, TwoWorkersNeverDoubleClaim) {
  config_.worker.concurrency = 4;
  config_.worker.claim_batch = 8;
  const int kEvents = 300;
  // The fake delays every response until both workers have claimed events, so
  // both claim from the same rows however slowly each process starts. Under
  // ThreadSanitizer one worker could otherwise drain the queue alone.
  // The fake's threads may outlive this scope, so they share the gate.
  struct Gate {
    std::mutex mutex;
    std::condition_variable opened_changed;
    bool opened = false;
  };
  auto gate = std::make_shared<Gate>();
  fake_.SetHandler([gate](const testing::RecordedRequest&) {
    std::unique_lock<std::mutex> lock(gate->mutex);
    gate->opened_changed.wait_for(lock, std::chrono::seconds(60), [&] { return gate->opened; });
    return FakeResponse{};
  });
  db_->exec("BEGIN");
  for (int i = 0; i < kEvents; ++i) InsertFor("user" + std::to_string(i) + "@example.com");
  db_->exec("COMMIT");
  std::string config_path = WriteConfigFile();

  WorkerProcess first(config_path, dir_.File("first.log"));
  ASSERT_TRUE(fake_.WaitForRequests(1, std::chrono::seconds(30)));
  WorkerProcess second(config_path, dir_.File("second.log"));
  bool both_claimed = WaitFor(
      [&] { return ReadFile(dir_.File("second.log")).find("msg=claimed") != std::string::npos; },
      std::chrono::seconds(30));
  {
    std::lock_guard<std::mutex> lock(gate->mutex);
    gate->opened = true;
  }
  gate->opened_changed.notify_all();
  ASSERT_TRUE(both_claimed) << ReadFile(dir_.File("second.log"));
  ASSERT_TRUE(WaitFor(
      [&] { return Count("SELECT COUNT(*) FROM events WHERE state = 'delivered'") == kEvents; },
      std::chrono::seconds(60)));
  EXPECT_EQ(first.Terminate(std::chrono::seconds(5)), 0);
  EXPECT_EQ(second.Terminate(std::chrono::seconds(5)), 0);

  std::vector<testing::RecordedRequest> requests = fake_.Requests();
  EXPECT_EQ(requests.size(), static_cast<size_t>(kEvents));
  std::string first_log = ReadFile(dir_.File("first.log"));
  std::string second_log = ReadFile(dir_.File("second.log"));
  EXPECT_NE(first_log.find("msg=delivered"), std::string::npos);
  EXPECT_NE(second_log.find("msg=delivered"), std::string::npos);
  EXPECT_NE(first_log.find("msg=claimed"), std::string::npos);
  EXPECT_EQ(first_log.find("test-token"), std::string::npos);
  EXPECT_EQ(second_log.find("test-token"), std::string::npos);
  std::set<std::string> emails;
  for (const auto& request : requests) emails.insert(request.Json()->getValue<std::string>("email"));
  EXPECT_EQ(emails.size(), static_cast<size_t>(kEvents));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM delivery_attempts"), kEvents);
  EXPECT_EQ(Count("SELECT MAX(attempt) FROM delivery_attempts"), 1);
}

TEST_F(WorkerProcessTest, SigtermLeavesNothingLeased) {
  config_.worker.concurrency = 2;
  fake_.SetHandler([](const testing::RecordedRequest&) {
    FakeResponse slow;
    slow.delay = Milliseconds(500);
    return slow;
  });
  for (int i = 0; i < 20; ++i) InsertFor("user" + std::to_string(i) + "@example.com");
  WorkerProcess worker(WriteConfigFile(), dir_.File("worker.log"));
  ASSERT_TRUE(fake_.WaitForRequests(1, std::chrono::seconds(10)));
  EXPECT_EQ(worker.Terminate(std::chrono::seconds(5)), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE state = 'leased'"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE state IN ('pending', 'delivered')"), 20);
}

TEST_F(WorkerProcessTest, DryRunWithoutToken) {
  config_.intercom.api_key = "";
  int64_t id = InsertFor("ann@example.com");
  WorkerProcess worker(WriteConfigFile(), dir_.File("worker.log"));
  ASSERT_TRUE(WaitForState(id, "delivered"));
  EXPECT_EQ(worker.Terminate(std::chrono::seconds(5)), 0);
  EXPECT_EQ(fake_.RequestCount(), 0u);
  std::string requests = ReadFile(config_.worker.dry_run_file);
  EXPECT_NE(requests.find(R"("body":{"event_name":"$identify","created_at":1700000000,"email":"ann@example.com"})"),
            std::string::npos)
      << requests;
  std::string log = ReadFile(dir_.File("worker.log"));
  EXPECT_NE(log.find("msg=dry_run"), std::string::npos) << log;
  EXPECT_NE(log.find("msg=delivered event_id=" + std::to_string(id) +
                     " status=202 identifier=email dry_run=true"),
            std::string::npos)
      << log;
}

TEST_F(WorkerProcessTest, LogsPauseCauseOnce) {
  fake_.SetHandler([](const testing::RecordedRequest&) {
    return FakeResponse::Error(401, "unauthorized", "Access Token Invalid");
  });
  for (int i = 0; i < 5; ++i) InsertFor("user" + std::to_string(i) + "@example.com");
  WorkerProcess worker(WriteConfigFile(), dir_.File("worker.log"));
  ASSERT_TRUE(fake_.WaitForRequests(1, std::chrono::seconds(10)));
  ASSERT_TRUE(WaitFor([&] {
    return Count("SELECT COUNT(*) FROM events WHERE state = 'pending' AND lease_owner IS NULL") == 5;
  }));
  EXPECT_EQ(worker.Terminate(std::chrono::seconds(5)), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE state = 'failed'"), 0);
  std::string log = ReadFile(dir_.File("worker.log"));
  size_t paused = log.find("msg=paused");
  ASSERT_NE(paused, std::string::npos) << log;
  EXPECT_EQ(log.find("msg=paused", paused + 1), std::string::npos);
  EXPECT_NE(log.find("check intercom.api_key"), std::string::npos);
  EXPECT_EQ(log.find("test-token"), std::string::npos);
}

}  // namespace
}  // namespace connector
