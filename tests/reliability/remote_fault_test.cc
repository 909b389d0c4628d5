// Remote faults that tests/worker does not already script: 502 and 503,
// error bodies that are empty or not JSON, a 404 until the contact exists,
// and a certificate that is rejected until ca_file names it. After each
// fault the same worker must still deliver a new event.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "tests/worker/fakes.h"
#include "tests/worker/worker_fixture.h"
#include "worker/worker.h"

namespace connector {
namespace {

using ::testing::HasSubstr;
using testing::FakeClock;
using testing::FakeResponse;
using testing::FixedRandom;
using testing::TestEvent;

constexpr int64_t kStart = 1'700'000'000'000;

class RemoteFault : public testing::WorkerFixture {
 protected:
  void TearDown() override {
    if (worker_) worker_->Stop();
  }

  void StartWorker() {
    worker_ = std::make_unique<Worker>(config_, clock_, random_);
    worker_->Start();
  }

  int64_t InsertFor(const std::string& email) {
    TestEvent event;
    event.distinct_id = email;
    event.next_attempt_at_ms = clock_.NowMs();
    event.updated_at_ms = clock_.NowMs();
    return Insert(event);
  }

  FakeClock clock_{kStart};
  FixedRandom random_{0.5};
  std::unique_ptr<Worker> worker_;
};

FakeResponse Plain(int status, const std::string& body, const std::string& content_type) {
  FakeResponse response;
  response.status = status;
  response.body = body;
  if (!content_type.empty()) response.headers.emplace_back("Content-Type", content_type);
  return response;
}

TEST_F(RemoteFault, ErrorBodiesEndInDocumentedState) {
  struct Case {
    FakeResponse response;
    std::string state;    // the event's state after the one attempt
    std::string outcome;  // delivery_attempts.outcome
    std::string reason;   // events.reason, exactly
  };
  const std::string html = "<html><body><h1>502 Bad Gateway</h1></body></html>";
  const std::string long_html = "<html>\n<body>\n" + std::string(300, 'p') + "\n</body></html>";
  const Case cases[] = {
      {FakeResponse::Error(502, "server_error", "Bad gateway"), "pending", "retry",
       "HTTP 502 server_error: Bad gateway"},
      {Plain(502, html, "text/html"), "pending", "retry", "HTTP 502 with body \"" + html + "\""},
      {FakeResponse::Error(503, "service_unavailable", "Try later"), "pending", "retry",
       "HTTP 503 service_unavailable: Try later"},
      {Plain(503, "", ""), "pending", "retry", "HTTP 503"},
      {Plain(500, "{\"errors\": [", "application/json"), "pending", "retry",
       "HTTP 500 with body \"{\"errors\": [\""},
      {Plain(400, "", ""), "failed", "failed", "HTTP 400"},
      {Plain(400, long_html, "text/html"), "failed", "failed",
       "HTTP 400 with body \"<html>\\n<body>\\n" + std::string(186, 'p') + "\"... (329 bytes)"},
      {Plain(422, "Unprocessable", "text/plain"), "failed", "failed",
       "HTTP 422 with body \"Unprocessable\""},
      {Plain(422, R"({"type":"error.list"})", "application/json"), "failed", "failed",
       R"(HTTP 422 with body "{"type":"error.list"}")"},
  };
  StartWorker();
  int index = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE("case " + std::to_string(index) + ": HTTP " + std::to_string(c.response.status) +
                 " body " + c.response.body);
    fake_.Enqueue(c.response);
    int64_t id = InsertFor("fault" + std::to_string(index) + "@example.com");
    ASSERT_TRUE(WaitFor([&] { return Attempts(id).size() == 1 && Read(id).state != "leased"; }));
    EXPECT_EQ(Read(id).state, c.state);
    EXPECT_EQ(Read(id).reason.value_or(""), c.reason);
    std::vector<testing::AttemptRow> attempts = Attempts(id);
    EXPECT_EQ(attempts[0].outcome, c.outcome);
    EXPECT_EQ(attempts[0].http_status, c.response.status);

    // The worker keeps running: the next event goes through.
    int64_t next = InsertFor("after" + std::to_string(index) + "@example.com");
    EXPECT_TRUE(WaitForState(next, "delivered"));
    ++index;
  }
}

// A redirect means base_url or a proxy is wrong for every event: delivery
// pauses with no attempt counted, and the probe after pause_probe_interval
// resumes it once the fake returns 202.
TEST_F(RemoteFault, RedirectPausesUntilAddressWorks) {
  // Shared, because the fake may still respond after the test body returns.
  auto redirecting = std::make_shared<std::atomic<bool>>(true);
  fake_.SetHandler([redirecting](const testing::RecordedRequest&) {
    if (!*redirecting) return Plain(202, "", "");
    FakeResponse redirect = Plain(302, "", "");
    redirect.headers.emplace_back("Location", "https://login.example.net/portal?next=%2Fevents");
    return redirect;
  });
  int64_t first = InsertFor("first@example.com");
  int64_t second = InsertFor("second@example.com");
  StartWorker();

  ASSERT_TRUE(WaitFor([&] { return Attempts(first).size() + Attempts(second).size() >= 1; }));
  ASSERT_TRUE(WaitFor([&] {
    return Count("SELECT COUNT(*) FROM events WHERE state = 'pending' AND lease_owner IS NULL") == 2;
  }));
  int64_t redirected = Attempts(first).empty() ? second : first;
  EXPECT_EQ(Read(redirected).attempts, 0);
  EXPECT_EQ(Read(redirected).reason.value_or(""),
            "HTTP 302 redirect to \"https://login.example.net/portal?next=%2Fevents\", which the "
            "worker does not follow; check intercom.base_url");
  EXPECT_EQ(Attempts(redirected)[0].outcome, "paused");
  EXPECT_EQ(Attempts(redirected)[0].http_status, 302);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE state = 'failed'"), 0);

  *redirecting = false;
  clock_.Advance(config_.worker.pause_probe_interval.count());
  EXPECT_TRUE(WaitForState(first, "delivered"));
  EXPECT_TRUE(WaitForState(second, "delivered"));
}

// Intercom accepts an event with 202 and an empty body. Another 2xx counts
// as delivered only with an empty body or a JSON object that is not an
// error.list. With an error or a page from a proxy it is retried.
TEST_F(RemoteFault, SuccessBodiesEndInDocumentedState) {
  struct Case {
    FakeResponse response;
    std::string state;
    std::string reason;   // events.reason, empty when delivered
  };
  const std::string portal = "<html><title>Sign in to the Wi-Fi</title></html>";
  const Case cases[] = {
      {Plain(202, "", ""), "delivered", ""},
      {Plain(200, "", ""), "delivered", ""},
      {Plain(201, R"({"type":"event"})", "application/json"), "delivered", ""},
      {Plain(204, "", ""), "delivered", ""},
      {FakeResponse::Error(200, "parameter_invalid", "Name too long"), "pending",
       "HTTP 200 but the body is an Intercom error, parameter_invalid: Name too long"},
      {Plain(200, portal, "text/html"), "pending",
       "HTTP 200 with an unexpected body \"" + portal + "\""},
  };
  StartWorker();
  int index = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE("case " + std::to_string(index) + ": HTTP " + std::to_string(c.response.status) +
                 " body " + c.response.body);
    fake_.Enqueue(c.response);
    int64_t id = InsertFor("success" + std::to_string(index) + "@example.com");
    ASSERT_TRUE(WaitFor([&] { return Attempts(id).size() == 1 && Read(id).state != "leased"; }));
    EXPECT_EQ(Read(id).state, c.state);
    EXPECT_EQ(Read(id).reason.value_or(""), c.reason);
    std::vector<testing::AttemptRow> attempts = Attempts(id);
    EXPECT_EQ(attempts[0].outcome, c.state == "delivered" ? "delivered" : "retry");
    EXPECT_EQ(attempts[0].http_status, c.response.status);
    ++index;
  }
}

TEST_F(RemoteFault, ErrorInSuccessFailsAfterRetries) {
  fake_.SetHandler([](const testing::RecordedRequest&) {
    return FakeResponse::Error(200, "parameter_invalid", "Name too long");
  });
  int64_t id = InsertFor("ann@example.com");
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Read(id).attempts == 1; }));
  clock_.Advance(1000);  // retry_schedule is 1 s, 2 s in the fixture
  ASSERT_TRUE(WaitFor([&] { return Read(id).attempts == 2; }));
  clock_.Advance(2000);
  ASSERT_TRUE(WaitForState(id, "failed"));
  EXPECT_EQ(Read(id).reason,
            "retries used up after 3 attempts; last error: HTTP 200 but the body is an Intercom "
            "error, parameter_invalid: Name too long");
  std::vector<testing::AttemptRow> attempts = Attempts(id);
  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_EQ(attempts[2].error_code, "parameter_invalid");
}

// The contact is created in Intercom after the event arrives: the first
// request gets 404 and the search finds nobody, the retry is delivered.
TEST_F(RemoteFault, NotFoundThenContactCreated) {
  std::atomic<bool> created{false};
  fake_.SetHandler([&](const testing::RecordedRequest& request) {
    if (request.path == "/contacts/search") return FakeResponse::Contacts({});
    if (!created) return FakeResponse::Error(404, "not_found", "User Not Found");
    return FakeResponse{};
  });
  int64_t id = InsertFor("late@example.com");
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Read(id).attempts == 1; }));
  EXPECT_EQ(Read(id).state, "pending");
  EXPECT_EQ(Read(id).reason, "no Intercom contact for late@example.com yet");
  EXPECT_EQ(Attempts(id)[0].outcome, "contact_missing");

  created = true;
  clock_.Advance(1000);  // contact_missing_schedule is 1 s in the fixture
  ASSERT_TRUE(WaitForState(id, "delivered"));
  std::vector<testing::AttemptRow> attempts = Attempts(id);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[1].outcome, "delivered");
  EXPECT_EQ(attempts[1].http_status, 202);
}

TEST_F(RemoteFault, UntrustedCertificateThenCaFile) {
  testing::FakeIntercom secure(testing::FakeIntercom::Scheme::kHttps);
  config_.intercom.base_url = secure.base_url();
  int64_t id = InsertFor("ann@example.com");

  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Attempts(id).size() == 1 && Read(id).state == "pending"; }));
  EXPECT_EQ(Attempts(id)[0].outcome, "retry");
  EXPECT_THAT(Read(id).reason.value_or(""), HasSubstr("ertificate"));
  EXPECT_EQ(secure.RequestCount(), 0u);
  worker_->Stop();
  worker_.reset();

  // The operator adds the CA, and the retry scheduled 1 s later is delivered.
  config_.intercom.ca_file = secure.ca_file();
  clock_.Advance(1000);
  StartWorker();
  ASSERT_TRUE(WaitForState(id, "delivered"));
  EXPECT_EQ(secure.RequestCount(), 1u);
  EXPECT_EQ(Read(id).attempts, 2);
  worker_->Stop();  // before `secure` goes, so no connection is cut mid-use
  worker_.reset();
}

}  // namespace
}  // namespace connector
