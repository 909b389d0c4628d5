// SIGKILL at random moments: ingest while clients send, and the worker while
// requests to Intercom are in flight. Nothing acknowledged may be lost, and a
// redelivered event must carry the same created_at so Intercom de-duplicates it.

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "common/database.h"
#include "tests/ingest/test_helpers.h"
#include "tests/reliability/process.h"
#include "tests/worker/worker_fixture.h"

namespace connector {
namespace {

using testing::ChildProcess;

constexpr int kCycles = 20;

std::string UuidFor(int client, int sequence) {
  char text[40];
  std::snprintf(text, sizeof(text), "00000000-0000-7000-8000-%04x%08x", client, sequence);
  return text;
}

// Clients that send small batches with known uuids until stopped, and keep
// the uuids of every batch that got a 200.
class SendingClients {
 public:
  SendingClients(int port, int clients, int first_client) {
    for (int i = 0; i < clients; ++i) {
      threads_.emplace_back([this, port, client = first_client + i] { Send(port, client); });
    }
  }
  ~SendingClients() { Stop(); }

  void Stop() {
    stopping_ = true;
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

  int sent() const { return sent_; }
  std::vector<std::string> acknowledged() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return acknowledged_;
  }

 private:
  void Send(int port, int client) {
    std::mt19937 random(static_cast<unsigned>(client));
    for (int sequence = 0; !stopping_;) {
      int size = 1 + static_cast<int>(random() % 5);
      std::vector<std::string> uuids;
      std::string body = R"({"api_key":"phc_crash","batch":[)";
      for (int i = 0; i < size; ++i, ++sequence) {
        uuids.push_back(UuidFor(client, sequence));
        if (i > 0) body += ",";
        body += R"({"event":"$identify","distinct_id":"user-)" + std::to_string(client) +
                R"(","uuid":")" + uuids.back() + R"("})";
      }
      body += "]}";
      sent_ += size;
      try {
        testing::HttpResult result = testing::SendRequest(
            port, "POST", "/batch/", body, {{"Content-Type", "application/json"}});
        if (result.status == 200) {
          std::lock_guard<std::mutex> lock(mutex_);
          acknowledged_.insert(acknowledged_.end(), uuids.begin(), uuids.end());
        }
      } catch (const std::exception&) {
        // The server died mid-request: no 200, so nothing was promised.
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
  }

  std::atomic<bool> stopping_{false};
  std::atomic<int> sent_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> acknowledged_;
  std::vector<std::thread> threads_;
};

TEST(IngestCrash, SigkillLosesNoAcknowledgedEvent) {
  testing::TempDir dir;
  std::string db_path = dir.File("queue.db");
  std::ofstream(dir.File("ingest.toml"))
      << "[queue]\npath = \"" << db_path << "\"\n"
      << "[ingest]\nlisten = \"127.0.0.1:0\"\nthreads = 8\n";
  std::mt19937 random(20260101);
  int sent = 0;
  std::vector<std::string> acknowledged;

  for (int cycle = 0; cycle < kCycles; ++cycle) {
    std::string log_path = dir.File("ingest-" + std::to_string(cycle) + ".log");
    ChildProcess ingest({testing::BuiltBinary("ingest/intercom-ingest"), "--config",
                         dir.File("ingest.toml")},
                        log_path);
    int port = testing::WaitForListeningPort(log_path, std::chrono::seconds(10));
    ASSERT_GT(port, 0) << testing::ReadWholeFile(log_path);

    SendingClients clients(port, 4, cycle * 4);
    // Kill at a random moment while the clients are mid-stream.
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + random() % 400));
    ingest.Kill();
    clients.Stop();
    sent += clients.sent();
    std::vector<std::string> batch = clients.acknowledged();
    acknowledged.insert(acknowledged.end(), batch.begin(), batch.end());
  }

  SQLite::Database db(db_path, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
  std::set<std::string> stored;
  SQLite::Statement select(db, "SELECT uuid FROM events");
  while (select.executeStep()) stored.insert(select.getColumn(0).getString());
  int lost = 0;
  for (const std::string& uuid : acknowledged) {
    if (stored.count(uuid) == 0) {
      ++lost;
      ADD_FAILURE() << "acknowledged event " << uuid << " is not in the database";
    }
  }
  std::cout << "ingest crash: cycles=" << kCycles << " sent=" << sent
            << " acknowledged=" << acknowledged.size() << " stored=" << stored.size()
            << " lost=" << lost << "\n";
  EXPECT_GT(acknowledged.size(), static_cast<size_t>(kCycles));
  EXPECT_EQ(lost, 0);
  // An event stored without a 200 (killed after the commit, before the response)
  // is allowed; one stored that was never sent is not.
  EXPECT_LE(stored.size(), static_cast<size_t>(sent));
}

class WorkerCrash : public testing::WorkerFixture {};

TEST_F(WorkerCrash, SigkillMidDeliveryRedeliversSameCreatedAt) {
  constexpr int kTriggering = 600;
  constexpr int kOther = 100;
  config_.worker.lease = Milliseconds(1000);
  config_.intercom.request_timeout = Milliseconds(500);
  config_.worker.concurrency = 4;
  config_.worker.claim_batch = 8;
  // Each request takes a little while, so kills land while some are in flight.
  fake_.SetHandler([](const testing::RecordedRequest&) {
    testing::FakeResponse slow;
    slow.delay = Milliseconds(20);
    return slow;
  });
  db_->exec("BEGIN");
  for (int i = 0; i < kTriggering + kOther; ++i) {
    testing::TestEvent event;
    event.uuid = "crash-" + std::to_string(i);
    event.name = i < kTriggering ? "$identify" : "page_viewed";
    event.distinct_id = "user" + std::to_string(i) + "@example.com";
    event.created_at = 1'700'000'000 + i;
    Insert(event);
  }
  db_->exec("COMMIT");
  std::string config_path = WriteConfigFile();
  std::mt19937 random(20260102);

  for (int cycle = 0; cycle < kCycles; ++cycle) {
    size_t before = fake_.RequestCount();
    ChildProcess worker({testing::BuiltBinary("worker/intercom-worker"), "--config", config_path, "--log-level", "debug"},
                        dir_.File("worker.log"));
    // Kill only once a request of this run is in flight.
    ASSERT_TRUE(fake_.WaitForRequests(before + 1, std::chrono::seconds(10)))
        << "cycle " << cycle << ": the worker sent nothing\n"
        << testing::ReadWholeFile(dir_.File("worker.log"));
    std::this_thread::sleep_for(std::chrono::milliseconds(random() % 200));
    worker.Kill();
  }

  // A worker that runs to the end takes over every expired lease.
  ChildProcess last({testing::BuiltBinary("worker/intercom-worker"), "--config", config_path, "--log-level", "debug"},
                    dir_.File("worker.log"));
  ASSERT_TRUE(WaitFor(
      [&] {
        return Count("SELECT COUNT(*) FROM events WHERE state IN ('pending', 'leased')") == 0;
      },
      std::chrono::seconds(30)))
      << Count("SELECT COUNT(*) FROM events WHERE state IN ('pending', 'leased')")
      << " events not finished";
  EXPECT_EQ(last.Terminate(std::chrono::seconds(5)), 0);

  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE state = 'delivered'"), kTriggering);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE state = 'skipped'"), kOther);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE state = 'leased'"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE lease_owner IS NOT NULL"), 0);

  // Every email is one event. Each must have arrived, always with its own created_at.
  std::map<std::string, std::set<int64_t>> created_at_by_email;
  std::map<std::string, int> requests_by_email;
  for (const testing::RecordedRequest& request : fake_.RequestsTo("/events")) {
    Poco::JSON::Object::Ptr body = request.Json();
    std::string email = body->getValue<std::string>("email");
    created_at_by_email[email].insert(body->getValue<int64_t>("created_at"));
    ++requests_by_email[email];
  }
  EXPECT_EQ(created_at_by_email.size(), static_cast<size_t>(kTriggering));
  int received_twice = 0;
  for (const auto& [email, created_ats] : created_at_by_email) {
    EXPECT_EQ(created_ats.size(), 1u) << email << " was sent with different created_at values";
    int index = std::stoi(email.substr(4));
    EXPECT_EQ(*created_ats.begin(), 1'700'000'000 + index) << email;
    if (requests_by_email[email] > 1) ++received_twice;
  }
  int64_t expired = Count("SELECT COUNT(*) FROM event_history WHERE action = 'lease_expired'");
  std::cout << "worker crash: cycles=" << kCycles << " triggering=" << kTriggering
            << " delivered=" << Count("SELECT COUNT(*) FROM events WHERE state = 'delivered'")
            << " requests=" << fake_.RequestsTo("/events").size()
            << " received_twice=" << received_twice << " leases_expired=" << expired << "\n";
  // The kills must have cut leases, or the test proved nothing.
  EXPECT_GT(expired, 0);
}

}  // namespace
}  // namespace connector
