// The Worker in-process against a fake Intercom: each outcome, the retry
// schedule on an injected clock, pausing, contact search, metadata, dry-run
// mode, pacing, pruning and a graceful stop.

#include "worker/worker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "tests/worker/fakes.h"
#include "tests/worker/worker_fixture.h"

namespace connector {
namespace {

using ::testing::HasSubstr;
using testing::FakeClock;
using testing::FakeResponse;
using testing::FixedRandom;
using testing::TestEvent;

constexpr int64_t kStart = 1'700'000'000'000;

class WorkerTest : public testing::WorkerFixture {
 protected:
  void StartWorker() {
    worker_ = std::make_unique<Worker>(config_, clock_, random_);
    worker_->Start();
  }
  void StopWorker() {
    if (worker_) worker_->Stop();
  }
  void TearDown() override { StopWorker(); }

  // Inserts an $identify event for `email`, due now on the fake clock.
  int64_t InsertFor(const std::string& email, const std::string& payload = "{}") {
    TestEvent event;
    event.distinct_id = email;
    event.payload = payload;
    event.next_attempt_at_ms = clock_.NowMs();
    event.updated_at_ms = clock_.NowMs();
    return Insert(event);
  }

  FakeClock clock_{kStart};
  FixedRandom random_{0.5};
  std::unique_ptr<Worker> worker_;
};

TEST_F(WorkerTest, DeliversWithExactRequest) {
  int64_t id = InsertFor("ann@example.com");
  StartWorker();
  ASSERT_TRUE(WaitForState(id, "delivered"));

  std::vector<testing::RecordedRequest> requests = fake_.Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/events");
  EXPECT_EQ(requests[0].Header("Authorization"), "Bearer test-token");
  EXPECT_EQ(requests[0].Header("Accept"), "application/json");
  EXPECT_EQ(requests[0].Header("Content-Type"), "application/json");
  EXPECT_EQ(requests[0].Header("Intercom-Version"), "2.11");
  EXPECT_EQ(requests[0].body,
            R"({"event_name":"$identify","created_at":1700000000,"email":"ann@example.com"})");

  testing::EventRow row = Read(id);
  EXPECT_EQ(row.attempts, 1);
  EXPECT_EQ(row.email, "ann@example.com");
  EXPECT_FALSE(row.reason.has_value());
  EXPECT_FALSE(row.lease_owner.has_value());
  std::vector<testing::AttemptRow> attempts = Attempts(id);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].attempt, 1);
  EXPECT_EQ(attempts[0].outcome, "delivered");
  EXPECT_EQ(attempts[0].http_status, 202);
  EXPECT_EQ(attempts[0].identifier, "email");
}

TEST_F(WorkerTest, PicksUpNewEventWhenIdle) {
  SystemClock clock;
  Worker worker(config_, clock, random_);
  worker.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let it go idle
  TestEvent event;
  event.next_attempt_at_ms = clock.NowMs();
  int64_t inserted_at = clock.NowMs();
  Insert(event);
  ASSERT_TRUE(fake_.WaitForRequests(1, std::chrono::seconds(5)));
  // The idle worker polls PRAGMA data_version every idle_poll (1 ms here).
  EXPECT_LT(fake_.Requests()[0].received_at_ms - inserted_at, 100);
  worker.Stop();
}

TEST_F(WorkerTest, ReleasesWhenRateWaitOutlastsLease) {
  config_.worker.lease = Milliseconds(10000);
  FakeResponse spent;
  spent.headers = {{"X-RateLimit-Remaining", "0"},
                   {"X-RateLimit-Reset", std::to_string(kStart / 1000 + 60)}};
  fake_.Enqueue(spent);
  config_.worker.concurrency = 1;
  int64_t first = InsertFor("ann@example.com");
  int64_t second = InsertFor("bob@example.com");
  StartWorker();
  ASSERT_TRUE(WaitForState(first, "delivered"));
  // The second event would wait 60 s for the window, past its 10 s lease,
  // so it goes back to the queue due when the window resets.
  ASSERT_TRUE(WaitFor([&] { return !Read(second).lease_owner.has_value(); }));
  EXPECT_EQ(Read(second).state, "pending");
  EXPECT_EQ(Read(second).next_attempt_at_ms, (kStart / 1000 + 60) * 1000);
  EXPECT_EQ(Read(second).attempts, 0);
  EXPECT_EQ(fake_.RequestCount(), 1u);
}

TEST_F(WorkerTest, ReusesOneConnection) {
  config_.worker.concurrency = 1;
  for (int i = 0; i < 5; ++i) InsertFor("user" + std::to_string(i) + "@example.com");
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Count("SELECT COUNT(*) FROM events WHERE state = 'delivered'") == 5; }));
  std::vector<testing::RecordedRequest> requests = fake_.Requests();
  ASSERT_EQ(requests.size(), 5u);
  for (const auto& request : requests) EXPECT_EQ(request.client_address, requests[0].client_address);
}

TEST_F(WorkerTest, ReconnectsWhenServerDropsIdleConnection) {
  config_.worker.concurrency = 1;
  FakeResponse closing;
  closing.close_after_response = true;
  fake_.Enqueue(closing);
  int64_t first = InsertFor("ann@example.com");
  StartWorker();
  ASSERT_TRUE(WaitForState(first, "delivered"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the close reaches the client
  int64_t second = InsertFor("bob@example.com");
  ASSERT_TRUE(WaitForState(second, "delivered"));
  // The stale connection costs no failed attempt: one row each.
  EXPECT_EQ(Attempts(first).size(), 1u);
  ASSERT_EQ(Attempts(second).size(), 1u);
  EXPECT_EQ(Attempts(second)[0].outcome, "delivered");
  std::vector<testing::RecordedRequest> requests = fake_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(requests[0].client_address, requests[1].client_address);
}

TEST_F(WorkerTest, SkipsWithReasonAndNoRequest) {
  config_.intercom.ignored_email_domains = {"example.org"};
  TestEvent pageview;
  pageview.name = "$pageview";
  pageview.next_attempt_at_ms = kStart;
  int64_t not_triggering = Insert(pageview);
  int64_t no_email = InsertFor("user-1");
  int64_t ignored = InsertFor("bob@Example.ORG");
  StartWorker();
  ASSERT_TRUE(WaitForState(not_triggering, "skipped"));
  ASSERT_TRUE(WaitForState(no_email, "skipped"));
  ASSERT_TRUE(WaitForState(ignored, "skipped"));
  EXPECT_THAT(Read(not_triggering).reason.value_or(""), HasSubstr("not in intercom.triggering_events"));
  EXPECT_THAT(Read(no_email).reason.value_or(""), HasSubstr("no valid email"));
  EXPECT_THAT(Read(ignored).reason.value_or(""), HasSubstr("ignored_email_domains"));
  EXPECT_EQ(fake_.RequestCount(), 0u);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM delivery_attempts"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM event_history WHERE action = 'skipped'"), 3);
}

TEST_F(WorkerTest, RetriesOnScheduleThenFails) {
  fake_.SetHandler([](const testing::RecordedRequest&) {
    return FakeResponse::Error(500, "server_error", "boom");
  });
  int64_t id = InsertFor("ann@example.com");
  StartWorker();

  // retry_schedule is 1s, 2s with no jitter: due at +1000 ms, then +3000 ms.
  ASSERT_TRUE(WaitFor([&] { return Read(id).attempts == 1; }));
  EXPECT_EQ(Read(id).state, "pending");
  EXPECT_EQ(Read(id).next_attempt_at_ms, kStart + 1000);
  EXPECT_EQ(Read(id).reason, "HTTP 500 server_error: boom");
  clock_.Advance(999);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(fake_.RequestCount(), 1u);

  clock_.Advance(1);
  ASSERT_TRUE(WaitFor([&] { return Read(id).attempts == 2; }));
  EXPECT_EQ(Read(id).state, "pending");
  EXPECT_EQ(Read(id).next_attempt_at_ms, kStart + 3000);

  clock_.Advance(2000);
  ASSERT_TRUE(WaitForState(id, "failed"));
  EXPECT_EQ(Read(id).reason,
            "retries used up after 3 attempts; last error: HTTP 500 server_error: boom");
  std::vector<testing::AttemptRow> attempts = Attempts(id);
  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_EQ(attempts[0].outcome, "retry");
  EXPECT_EQ(attempts[1].outcome, "retry");
  EXPECT_EQ(attempts[2].outcome, "failed");
  EXPECT_EQ(attempts[2].error_code, "server_error");

  // Intercom deduplicates on created_at, so every retry sends the same one.
  for (const auto& request : fake_.Requests()) {
    EXPECT_EQ(request.Json()->getValue<int64_t>("created_at"), 1'700'000'000);
  }
}

TEST_F(WorkerTest, RetryDelayHasJitter) {
  random_ = FixedRandom(1.0);  // factor 1 + jitter
  config_.worker.jitter = 0.5;
  fake_.Enqueue(FakeResponse{408, {}, "", {}, false});
  int64_t id = InsertFor("ann@example.com");
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Read(id).attempts == 1; }));
  EXPECT_EQ(Read(id).next_attempt_at_ms, kStart + 1500);
  EXPECT_EQ(Attempts(id)[0].outcome, "retry");
}

TEST_F(WorkerTest, RetriesConnectionResetAndTimeout) {
  config_.intercom.request_timeout = Milliseconds(200);
  FakeResponse reset;
  reset.reset_connection = true;
  FakeResponse slow;
  slow.delay = Milliseconds(600);
  fake_.Enqueue(reset);
  fake_.Enqueue(slow);
  int64_t first = InsertFor("ann@example.com");
  config_.worker.concurrency = 1;
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Read(first).attempts == 1; }));
  std::vector<testing::AttemptRow> attempts = Attempts(first);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].outcome, "retry");
  EXPECT_FALSE(attempts[0].http_status.has_value());
  EXPECT_FALSE(attempts[0].error.empty());

  clock_.Advance(1000);
  ASSERT_TRUE(WaitFor([&] { return Read(first).attempts == 2; }));
  attempts = Attempts(first);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[1].outcome, "retry");
  EXPECT_THAT(attempts[1].error, HasSubstr("timed out"));

  clock_.Advance(2000);
  ASSERT_TRUE(WaitForState(first, "delivered"));
}

TEST_F(WorkerTest, OversizedBodyIsRetried) {
  config_.worker.concurrency = 1;
  fake_.Enqueue(FakeResponse::Endless(
      "HTTP/1.1 202 Accepted\r\nContent-Length: 2000000000\r\n\r\n", std::string(4096, 'x')));
  int64_t first = InsertFor("ann@example.com");
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Read(first).attempts == 1; }));
  EXPECT_EQ(Read(first).state, "pending");
  EXPECT_EQ(Read(first).next_attempt_at_ms, kStart + 1000);
  EXPECT_EQ(Read(first).reason, "HTTP 202 with an unexpected body over 1048576 bytes, starting \"" +
                                    std::string(200, 'x') + "\"");
  std::vector<testing::AttemptRow> attempts = Attempts(first);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].outcome, "retry");
  EXPECT_EQ(attempts[0].http_status, 202);

  // The next event goes out on a new connection, and so does the retry.
  int64_t second = InsertFor("bob@example.com");
  ASSERT_TRUE(WaitForState(second, "delivered"));
  clock_.Advance(1000);
  ASSERT_TRUE(WaitForState(first, "delivered"));
  std::vector<testing::RecordedRequest> requests = fake_.Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_NE(requests[0].client_address, requests[1].client_address);
}

// A response that never ends keeps its delivery thread busy for
// request_timeout and no longer. The event is retried later, not reclaimed
// and sent again while the first request still runs, and the other events
// go out.
TEST_F(WorkerTest, EndlessResponseEndsAtRequestTimeout) {
  config_.worker.concurrency = 1;
  config_.intercom.request_timeout = Milliseconds(300);
  fake_.SetHandler([](const testing::RecordedRequest& request) {
    if (request.body.find("ann@example.com") == std::string::npos) return FakeResponse{};
    return FakeResponse::Trickle("HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n",
                                 "1\r\nx\r\n", std::chrono::milliseconds(20));
  });
  int64_t stuck = InsertFor("ann@example.com");
  int64_t healthy = InsertFor("bob@example.com");
  auto started = std::chrono::steady_clock::now();
  StartWorker();
  ASSERT_TRUE(WaitForState(healthy, "delivered"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));

  EXPECT_EQ(Read(stuck).state, "pending");
  EXPECT_EQ(Read(stuck).attempts, 1);
  EXPECT_THAT(Read(stuck).reason.value_or(""),
              HasSubstr("timed out: no complete response within intercom.request_timeout (300 ms)"));
  std::vector<testing::AttemptRow> attempts = Attempts(stuck);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].outcome, "retry");
  EXPECT_FALSE(attempts[0].http_status.has_value());
  EXPECT_EQ(fake_.RequestCount(), 2u);
}

TEST_F(WorkerTest, RateLimitedDoesNotCountAttempt) {
  int64_t reset_s = kStart / 1000 + 5;
  FakeResponse limited = FakeResponse::Error(429, "rate_limit_exceeded", "Too many requests");
  limited.headers.emplace_back("X-RateLimit-Limit", "1666");
  limited.headers.emplace_back("X-RateLimit-Remaining", "0");
  limited.headers.emplace_back("X-RateLimit-Reset", std::to_string(reset_s));
  fake_.Enqueue(limited);
  int64_t id = InsertFor("ann@example.com");
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Attempts(id).size() == 1; }));
  EXPECT_EQ(Read(id).state, "pending");
  EXPECT_EQ(Read(id).attempts, 0);
  EXPECT_EQ(Read(id).next_attempt_at_ms, reset_s * 1000);
  EXPECT_EQ(Attempts(id)[0].outcome, "rate_limited");
  EXPECT_EQ(Attempts(id)[0].http_status, 429);

  clock_.Set(reset_s * 1000);
  ASSERT_TRUE(WaitForState(id, "delivered"));
  EXPECT_EQ(Read(id).attempts, 1);
}

TEST_F(WorkerTest, PausesOnUnauthorizedAndResumesAfterProbe) {
  config_.worker.concurrency = 1;
  fake_.Enqueue(FakeResponse::Error(401, "unauthorized", "Access Token Invalid"));
  std::vector<int64_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(InsertFor("user" + std::to_string(i) + "@example.com"));
  StartWorker();

  // One request, then nothing: every event waits, none fails.
  ASSERT_TRUE(fake_.WaitForRequests(1, std::chrono::seconds(5)));
  ASSERT_TRUE(WaitFor([&] {
    return Count("SELECT COUNT(*) FROM events WHERE state = 'pending' AND lease_owner IS NULL") == 3;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(fake_.RequestCount(), 1u);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE state = 'failed'"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE attempts > 0"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM delivery_attempts WHERE outcome = 'paused'"), 1);

  // After the probe interval one event goes out as a probe; 202 resumes all.
  clock_.Advance(1000);
  ASSERT_TRUE(WaitFor([&] { return Count("SELECT COUNT(*) FROM events WHERE state = 'delivered'") == 3; }));
  EXPECT_EQ(fake_.RequestCount(), 4u);
}

TEST_F(WorkerTest, StaysPausedWhileProbeFails) {
  fake_.SetHandler([](const testing::RecordedRequest&) {
    return FakeResponse::Error(403, "token_revoked", "Token revoked");
  });
  int64_t id = InsertFor("ann@example.com");
  StartWorker();
  // The gate closes when the response is read, so advance the clock only after that.
  ASSERT_TRUE(WaitFor([&] { return Attempts(id).size() == 1; }));
  clock_.Advance(1000);
  ASSERT_TRUE(fake_.WaitForRequests(2, std::chrono::seconds(5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(fake_.RequestCount(), 2u);
  ASSERT_TRUE(WaitFor([&] { return Attempts(id).size() == 2; }));
  EXPECT_EQ(Read(id).state, "pending");
  EXPECT_EQ(Read(id).attempts, 0);
  EXPECT_EQ(Attempts(id)[1].error_code, "token_revoked");
}

TEST_F(WorkerTest, ProbeFailingOtherwiseStillResumes) {
  config_.worker.concurrency = 1;
  fake_.Enqueue(FakeResponse::Error(401, "unauthorized", "Access Token Invalid"));
  fake_.Enqueue(FakeResponse::Error(422, "parameter_invalid", "bad"));
  int64_t first = InsertFor("ann@example.com");
  int64_t second = InsertFor("bob@example.com");
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Attempts(first).size() == 1; }));
  clock_.Advance(1000);
  // The probe's 422 fails that event, but the token was accepted.
  ASSERT_TRUE(WaitFor([&] { return Count("SELECT COUNT(*) FROM events WHERE state = 'failed'") == 1; }));
  ASSERT_TRUE(WaitFor([&] { return Count("SELECT COUNT(*) FROM events WHERE state = 'delivered'") == 1; }));
  EXPECT_EQ(fake_.RequestCount(), 3u);
  EXPECT_NE(Read(first).state, Read(second).state);
}

TEST_F(WorkerTest, ContactMissingWindowThenFails) {
  fake_.SetHandler([](const testing::RecordedRequest& request) {
    if (request.path == "/contacts/search") return FakeResponse::Contacts({});
    return FakeResponse::Error(404, "not_found", "User Not Found");
  });
  int64_t id = InsertFor("ann@example.com");
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Read(id).attempts == 1; }));
  EXPECT_EQ(Read(id).state, "pending");
  EXPECT_EQ(Read(id).next_attempt_at_ms, kStart + 1000);
  EXPECT_EQ(Read(id).reason, "no Intercom contact for ann@example.com yet");
  EXPECT_EQ(Attempts(id)[0].outcome, "contact_missing");
  EXPECT_THAT(Attempts(id)[0].notes, HasSubstr("contact search found 0 contacts"));

  clock_.Advance(1000);
  ASSERT_TRUE(WaitForState(id, "failed"));
  EXPECT_EQ(Read(id).reason, "no Intercom contact for ann@example.com");
  std::vector<testing::RecordedRequest> searches = fake_.RequestsTo("/contacts/search");
  ASSERT_EQ(searches.size(), 2u);
  EXPECT_EQ(searches[0].body,
            R"({"query":{"field":"email","operator":"=","value":"ann@example.com"}})");
  EXPECT_EQ(searches[0].Header("Authorization"), "Bearer test-token");
}

TEST_F(WorkerTest, LeadFoundBySearchIsSentById) {
  config_.worker.concurrency = 1;
  fake_.SetHandler([](const testing::RecordedRequest& request) {
    if (request.path == "/contacts/search") {
      return FakeResponse::Contacts({{"lead-1", "lead", "ann@example.com"}});
    }
    if (request.Json()->has("email")) return FakeResponse::Error(404, "not_found", "User Not Found");
    return FakeResponse{};
  });
  int64_t first = InsertFor("ann@example.com");
  ASSERT_TRUE(first > 0);
  StartWorker();
  ASSERT_TRUE(WaitForState(first, "delivered"));
  int64_t second = InsertFor("ann@example.com");
  ASSERT_TRUE(WaitForState(second, "delivered"));

  // The second event uses the cached id: no second search.
  std::vector<testing::RecordedRequest> requests = fake_.Requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[1].path, "/contacts/search");
  EXPECT_EQ(requests[2].body, R"({"event_name":"$identify","created_at":1700000000,"id":"lead-1"})");
  EXPECT_EQ(requests[3].body, R"({"event_name":"$identify","created_at":1700000000,"id":"lead-1"})");
  std::vector<testing::AttemptRow> attempts = Attempts(first);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].outcome, "contact_missing");
  EXPECT_EQ(attempts[0].identifier, "email");
  EXPECT_THAT(attempts[0].notes, HasSubstr("contact search found lead lead-1"));
  EXPECT_EQ(attempts[1].outcome, "delivered");
  EXPECT_EQ(attempts[1].identifier, "id");
}

TEST_F(WorkerTest, ConflictFailsWhenSearchIsAmbiguous) {
  fake_.SetHandler([](const testing::RecordedRequest& request) {
    if (request.path == "/contacts/search") {
      return FakeResponse::Contacts({{"u1", "user", "ann@example.com"}, {"u2", "user", "ann@example.com"}});
    }
    return FakeResponse::Error(409, "conflict", "Multiple existing users");
  });
  int64_t id = InsertFor("ann@example.com");
  StartWorker();
  ASSERT_TRUE(WaitForState(id, "failed"));
  EXPECT_EQ(Read(id).reason, "HTTP 409 conflict: Multiple existing users");
  ASSERT_EQ(Attempts(id).size(), 1u);
  EXPECT_EQ(Attempts(id)[0].outcome, "failed");
  EXPECT_EQ(fake_.RequestCount(), 2u);
}

TEST_F(WorkerTest, ConflictResolvedByOnlyUser) {
  fake_.SetHandler([](const testing::RecordedRequest& request) {
    if (request.path == "/contacts/search") {
      return FakeResponse::Contacts({{"l1", "lead", "ann@example.com"}, {"u1", "user", "ann@example.com"}});
    }
    if (request.Json()->has("email")) return FakeResponse::Error(409, "conflict", "Multiple existing users");
    return FakeResponse{};
  });
  int64_t id = InsertFor("ann@example.com");
  StartWorker();
  ASSERT_TRUE(WaitForState(id, "delivered"));
  EXPECT_EQ(fake_.Requests().back().Json()->getValue<std::string>("id"), "u1");
}

TEST_F(WorkerTest, OtherClientErrorFailsAtOnce) {
  fake_.Enqueue(FakeResponse::Error(422, "parameter_invalid", "Event name limit reached", "req-9"));
  int64_t id = InsertFor("ann@example.com");
  StartWorker();
  ASSERT_TRUE(WaitForState(id, "failed"));
  EXPECT_EQ(Read(id).reason, "HTTP 422 parameter_invalid: Event name limit reached");
  EXPECT_EQ(Read(id).attempts, 1);
  std::vector<testing::AttemptRow> attempts = Attempts(id);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].outcome, "failed");
  EXPECT_EQ(attempts[0].http_status, 422);
  EXPECT_EQ(attempts[0].request_id, "req-9");
  EXPECT_EQ(attempts[0].error_code, "parameter_invalid");
  EXPECT_EQ(attempts[0].error_message, "Event name limit reached");
}

TEST_F(WorkerTest, SendsMetadataAndNotesChanges) {
  config_.intercom.metadata_properties = {"plan", "$browser", "tags"};
  int64_t id = InsertFor("ann@example.com",
                         R"({"properties": {"plan": "pro", "$browser": "Firefox", "tags": ["a"]}})");
  StartWorker();
  ASSERT_TRUE(WaitForState(id, "delivered"));
  EXPECT_EQ(fake_.Requests()[0].body,
            R"({"event_name":"$identify","created_at":1700000000,"email":"ann@example.com","metadata":{"plan":"pro"}})");
  EXPECT_EQ(Attempts(id)[0].notes,
            "dropped PostHog property $browser; dropped tags: arrays are not accepted");
}

TEST_F(WorkerTest, DryRunWritesRequestsToFile) {
  config_.intercom.api_key = "";
  int64_t id = InsertFor("ann@example.com");
  StartWorker();
  ASSERT_TRUE(WaitForState(id, "delivered"));
  EXPECT_EQ(fake_.RequestCount(), 0u);
  std::ifstream file(config_.worker.dry_run_file);
  std::string line;
  ASSERT_TRUE(std::getline(file, line));
  EXPECT_EQ(line,
            "{\"method\":\"POST\",\"url\":\"" + fake_.base_url() +
                "/events\",\"headers\":{\"Accept\":\"application/json\",\"Content-Type\":"
                "\"application/json\",\"Intercom-Version\":\"2.11\"},\"body\":{\"event_name\":"
                "\"$identify\",\"created_at\":1700000000,\"email\":\"ann@example.com\"}}");
  EXPECT_FALSE(std::getline(file, line));
  EXPECT_EQ(Attempts(id)[0].outcome, "delivered");
  EXPECT_EQ(Attempts(id)[0].notes,
            "dry run: written to " + config_.worker.dry_run_file + ", not sent to Intercom");
}

TEST_F(WorkerTest, ReclaimsExpiredLease) {
  TestEvent stuck;
  stuck.state = "leased";
  stuck.lease_owner = "dead-worker";
  stuck.lease_expires_at_ms = kStart - 1;
  int64_t id = Insert(stuck);
  TestEvent held = stuck;
  held.uuid = "held";
  held.lease_expires_at_ms = kStart + 60000;
  int64_t live = Insert(held);
  StartWorker();
  ASSERT_TRUE(WaitForState(id, "delivered"));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM event_history WHERE action = 'lease_expired' AND event_id = " +
                  std::to_string(id)),
            1);
  // A live lease of another worker is left alone until it expires.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(Read(live).state, "leased");
  clock_.Advance(60000);
  ASSERT_TRUE(WaitForState(live, "delivered"));
}

TEST_F(WorkerTest, PrunesFinishedRowsAfterRetention) {
  config_.worker.retention = Milliseconds(3'600'000);
  int64_t old_time = kStart - 3'600'001;
  auto insert = [&](const std::string& state, int64_t updated) {
    TestEvent event;
    event.state = state;
    event.updated_at_ms = updated;
    return Insert(event);
  };
  int64_t old_delivered = insert("delivered", old_time);
  int64_t old_skipped = insert("skipped", old_time);
  int64_t old_failed = insert("failed", old_time);
  int64_t recent = insert("delivered", kStart - 1000);
  db_->exec("INSERT INTO delivery_attempts (event_id, attempt, started_at_ms, duration_ms, outcome) "
            "VALUES (" + std::to_string(old_delivered) + ", 1, 0, 1, 'delivered')");
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Read(old_delivered).state == "<deleted>"; }));
  EXPECT_EQ(Read(old_skipped).state, "<deleted>");
  EXPECT_EQ(Read(old_failed).state, "failed");
  EXPECT_EQ(Read(recent).state, "delivered");
  EXPECT_EQ(Count("SELECT COUNT(*) FROM delivery_attempts"), 0);
}

TEST_F(WorkerTest, StopReleasesEveryLease) {
  config_.worker.concurrency = 2;
  fake_.SetHandler([](const testing::RecordedRequest&) {
    FakeResponse slow;
    slow.delay = Milliseconds(300);
    return slow;
  });
  for (int i = 0; i < 10; ++i) InsertFor("user" + std::to_string(i) + "@example.com");
  StartWorker();
  ASSERT_TRUE(fake_.WaitForRequests(2, std::chrono::seconds(5)));
  worker_->Stop();
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE state = 'leased'"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE lease_owner IS NOT NULL"), 0);
  // The two requests in flight finished; the rest went back unchanged.
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE state = 'delivered'"), 2);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE state = 'pending' AND attempts = 0"), 8);
}

TEST_F(WorkerTest, StopCutsRequestsAfterShutdownTimeout) {
  config_.worker.concurrency = 1;
  config_.worker.shutdown_timeout = Milliseconds(200);
  config_.intercom.request_timeout = Milliseconds(10000);
  FakeResponse hang;
  hang.delay = Milliseconds(3000);
  fake_.Enqueue(hang);
  int64_t id = InsertFor("ann@example.com");
  StartWorker();
  ASSERT_TRUE(fake_.WaitForRequests(1, std::chrono::seconds(5)));
  auto stop_started = std::chrono::steady_clock::now();
  worker_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_started, std::chrono::milliseconds(2000));
  EXPECT_EQ(Read(id).state, "pending");
  EXPECT_FALSE(Read(id).lease_owner.has_value());
  ASSERT_EQ(Attempts(id).size(), 1u);
  EXPECT_EQ(Attempts(id)[0].outcome, "retry");
}

TEST_F(WorkerTest, StopClosesConnections) {
  config_.worker.concurrency = 2;
  for (int i = 0; i < 4; ++i) InsertFor("user" + std::to_string(i) + "@example.com");
  StartWorker();
  ASSERT_TRUE(WaitFor(
      [&] { return Count("SELECT COUNT(*) FROM events WHERE state = 'delivered'") == 4; }));
  EXPECT_GT(fake_.OpenConnections(), 0);  // keep-alive while running
  StopWorker();
  // The fake notices a closed connection when its thread next reads.
  EXPECT_TRUE(WaitFor([&] { return fake_.OpenConnections() == 0; })) << fake_.OpenConnections();
}

TEST_F(WorkerTest, DeliversOverVerifiedTls) {
  testing::FakeIntercom secure(testing::FakeIntercom::Scheme::kHttps);
  config_.intercom.base_url = secure.base_url();
  config_.intercom.ca_file = secure.ca_file();
  int64_t id = InsertFor("ann@example.com");
  StartWorker();
  ASSERT_TRUE(WaitForState(id, "delivered"));
  ASSERT_EQ(secure.RequestCount(), 1u);
  EXPECT_EQ(secure.Requests()[0].Header("Authorization"), "Bearer test-token");
  StopWorker();  // before `secure` goes, so no connection is cut mid-use
}

TEST_F(WorkerTest, RejectsUntrustedCertificate) {
  testing::FakeIntercom secure(testing::FakeIntercom::Scheme::kHttps);
  config_.intercom.base_url = secure.base_url();
  int64_t id = InsertFor("ann@example.com");
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Attempts(id).size() == 1; }));
  EXPECT_EQ(Read(id).state, "pending");
  EXPECT_EQ(Attempts(id)[0].outcome, "retry");
  EXPECT_THAT(Attempts(id)[0].error, HasSubstr("ertificate")) << Attempts(id)[0].error;
  EXPECT_EQ(secure.RequestCount(), 0u);
  StopWorker();
}

// Pacing needs the real clock: the worker sleeps until X-RateLimit-Reset.
TEST_F(WorkerTest, PacesToRateLimitReset) {
  SystemClock clock;
  config_.worker.concurrency = 1;
  int64_t reset_s = clock.NowMs() / 1000 + 2;
  FakeResponse spent;
  spent.headers = {{"X-RateLimit-Limit", "10"}, {"X-RateLimit-Remaining", "0"},
                   {"X-RateLimit-Reset", std::to_string(reset_s)}};
  fake_.Enqueue(spent);
  for (int i = 0; i < 2; ++i) {
    TestEvent event;
    event.distinct_id = "user" + std::to_string(i) + "@example.com";
    event.next_attempt_at_ms = clock.NowMs();
    Insert(event);
  }
  Worker worker(config_, clock, random_);
  worker.Start();
  ASSERT_TRUE(WaitFor(
      [&] { return Count("SELECT COUNT(*) FROM events WHERE state = 'delivered'") == 2; }));
  worker.Stop();
  std::vector<testing::RecordedRequest> requests = fake_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_GE(requests[1].received_at_ms, reset_s * 1000);
}

}  // namespace
}  // namespace connector
