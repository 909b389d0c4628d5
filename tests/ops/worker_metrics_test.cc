// intercom-worker's metrics port: /metrics after deliveries, retries and
// failures, and /healthz and /status.json while delivery is paused.

#include <gtest/gtest.h>

#include "tests/ops/ops_helpers.h"
#include "tests/worker/worker_fixture.h"

namespace connector {
namespace {

using testing::ChildProcess;
using testing::FakeResponse;
using testing::HttpCall;
using testing::RecordedRequest;
using testing::SampleValue;
using testing::TestEvent;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class WorkerMetricsTest : public testing::WorkerFixture {
 protected:
  int64_t InsertFor(const std::string& email, const std::string& name = "$identify") {
    TestEvent event;
    event.name = name;
    event.distinct_id = email;
    event.next_attempt_at_ms = NowMs();
    event.updated_at_ms = NowMs();
    int64_t id = Insert(event);
    // The fixture inserts received_at_ms = 0; a real receipt time makes the
    // ingest-to-delivery latency meaningful.
    db_->exec("UPDATE events SET received_at_ms = " + std::to_string(NowMs() - 1500) +
              " WHERE id = " + std::to_string(id));
    return id;
  }

  // Starts the worker binary and returns its metrics port.
  int StartWorker() {
    worker_ = std::make_unique<ChildProcess>(
        "worker/intercom-worker", std::vector<std::string>{"--config", WriteConfigFile()},
        dir_.File("worker.log"));
    std::string port =
        worker_->WaitForLog(R"(msg=metrics_listening address=127\.0\.0\.1:(\d+))");
    EXPECT_FALSE(port.empty()) << worker_->Log();
    return port.empty() ? 0 : std::stoi(port);
  }

  std::unique_ptr<ChildProcess> worker_;
};

// Responds by recipient: ann 202, bob 500, carl 422.
FakeResponse AnswerByEmail(const RecordedRequest& request) {
  std::string email = request.Json()->optValue<std::string>("email", "");
  if (email == "bob@example.com") return FakeResponse::Error(500, "server_error", "try later");
  if (email == "carl@example.com") {
    return FakeResponse::Error(422, "parameter_invalid", "Name too long");
  }
  FakeResponse accepted;
  accepted.headers = {{"X-RateLimit-Limit", "1000"},
                      {"X-RateLimit-Remaining", "987"},
                      {"X-RateLimit-Reset", std::to_string(NowMs() / 1000 + 10)}};
  return accepted;
}

TEST_F(WorkerMetricsTest, CountsOutcomesAndMatchesQueue) {
  config_.worker.retry_schedule = {Milliseconds(3'600'000)};  // bob stays pending
  fake_.SetHandler(AnswerByEmail);
  int64_t ann = InsertFor("ann@example.com");
  int64_t bob = InsertFor("bob@example.com");
  int64_t carl = InsertFor("carl@example.com");
  int64_t page = InsertFor("dora@example.com", "page_view");  // not a triggering event
  int port = StartWorker();
  ASSERT_GT(port, 0);
  ASSERT_TRUE(WaitForState(ann, "delivered"));
  ASSERT_TRUE(WaitForState(carl, "failed"));
  ASSERT_TRUE(WaitForState(page, "skipped"));
  ASSERT_TRUE(WaitFor([&] { return Read(bob).attempts == 1; }));
  ASSERT_TRUE(WaitForState(bob, "pending"));
  // The status reader caches for a second; let a fresh read see the end state.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));

  testing::OpsHttpResult metrics = HttpCall(port, "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  const std::string& text = metrics.body;
  EXPECT_EQ(SampleValue(text, R"(intercom_connector_deliveries_total{outcome="delivered"})"), 1.0)
      << text;
  EXPECT_EQ(SampleValue(text, R"(intercom_connector_deliveries_total{outcome="retry"})"), 1.0);
  EXPECT_EQ(SampleValue(text, R"(intercom_connector_deliveries_total{outcome="failed"})"), 1.0);
  EXPECT_EQ(SampleValue(text, R"(intercom_connector_deliveries_total{outcome="skipped"})"), 1.0);
  EXPECT_EQ(SampleValue(text, R"(intercom_connector_intercom_responses_total{status_class="2xx"})"),
            1.0);
  EXPECT_EQ(SampleValue(text, R"(intercom_connector_intercom_responses_total{status_class="4xx"})"),
            1.0);
  EXPECT_EQ(SampleValue(text, R"(intercom_connector_intercom_responses_total{status_class="5xx"})"),
            1.0);
  EXPECT_EQ(SampleValue(text, R"(intercom_connector_retries_total{reason="transient"})"), 1.0);
  EXPECT_EQ(SampleValue(text, "intercom_connector_pauses_total"), 0.0);
  EXPECT_EQ(SampleValue(text, "intercom_connector_paused"), 0.0);
  EXPECT_EQ(SampleValue(text, "intercom_connector_intercom_requests_in_flight"), 0.0);
  EXPECT_EQ(SampleValue(text, "intercom_connector_rate_limit_remaining"), 987.0);
  EXPECT_EQ(SampleValue(text, "intercom_connector_intercom_request_duration_seconds_count"),
            static_cast<double>(fake_.RequestCount()));
  EXPECT_EQ(SampleValue(text, "intercom_connector_delivery_latency_seconds_count"), 1.0);
  // Received 1.5 s before insertion, so at least that long in the queue.
  EXPECT_GE(SampleValue(text, "intercom_connector_delivery_latency_seconds_sum").value_or(0), 1.5);

  for (const char* state : {"pending", "leased", "delivered", "skipped", "failed"}) {
    EXPECT_EQ(SampleValue(text, std::string("intercom_connector_queue_events{state=\"") + state +
                                    "\"}"),
              static_cast<double>(
                  Count(std::string("SELECT count(*) FROM events WHERE state = '") + state + "'")))
        << state;
  }
  double age = SampleValue(text, "intercom_connector_queue_oldest_pending_age_seconds").value_or(-1);
  EXPECT_GE(age, 1.5);
  EXPECT_LT(age, 60.0);
  EXPECT_EQ(worker_->Terminate(), 0);
}

TEST_F(WorkerMetricsTest, HealthzUnhealthyWhilePaused) {
  int port = StartWorker();
  ASSERT_GT(port, 0);
  testing::OpsHttpResult healthy = HttpCall(port, "GET", "/healthz");
  EXPECT_EQ(healthy.status, 200);
  EXPECT_EQ(healthy.body, R"({"status":"ok"})");

  fake_.SetHandler([](const RecordedRequest&) {
    return FakeResponse::Error(401, "unauthorized", "Access Token Invalid");
  });
  InsertFor("ann@example.com");
  ASSERT_TRUE(fake_.WaitForRequests(1, std::chrono::seconds(10)));
  ASSERT_TRUE(WaitFor([&] { return HttpCall(port, "GET", "/healthz").status == 503; }))
      << worker_->Log();
  testing::OpsHttpResult paused = HttpCall(port, "GET", "/healthz");
  EXPECT_NE(paused.body.find(R"("status":"paused")"), std::string::npos) << paused.body;
  EXPECT_NE(paused.body.find("rejected the access token"), std::string::npos) << paused.body;

  std::string text = HttpCall(port, "GET", "/metrics").body;
  EXPECT_EQ(SampleValue(text, "intercom_connector_paused"), 1.0) << text;
  EXPECT_EQ(SampleValue(text, "intercom_connector_pauses_total"), 1.0);
  EXPECT_EQ(SampleValue(text, R"(intercom_connector_deliveries_total{outcome="paused"})"), 1.0);

  std::string status = HttpCall(port, "GET", "/status.json").body;
  EXPECT_NE(status.find(R"("paused":true)"), std::string::npos) << status;
  EXPECT_EQ(worker_->Terminate(), 0);
}

TEST_F(WorkerMetricsTest, ServesStatusPageWithoutExternalResources) {
  int port = StartWorker();
  ASSERT_GT(port, 0);
  testing::OpsHttpResult page = HttpCall(port, "GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("status.json"), std::string::npos);
  // Everything is inline: no script, stylesheet or image is loaded from elsewhere.
  EXPECT_EQ(page.body.find("src=\"http"), std::string::npos);
  EXPECT_EQ(page.body.find("href=\"http"), std::string::npos);
  EXPECT_EQ(page.body.find("<link"), std::string::npos);
  EXPECT_EQ(worker_->Terminate(), 0);
}

}  // namespace
}  // namespace connector
