// intercom-ingest's metrics port: /metrics after accepted, duplicate and
// rejected requests, and /healthz.

#include <gtest/gtest.h>

#include <fstream>

#include "tests/ingest/test_helpers.h"
#include "tests/ops/ops_helpers.h"
#include "tests/support/temp_dir.h"

namespace connector {
namespace {

using testing::ChildProcess;
using testing::HttpCall;
using testing::SampleValue;
using testing::SendRequest;
using testing::TempDir;

class IngestMetricsTest : public ::testing::Test {
 protected:
  void StartIngest(const std::string& extra_ingest_keys = "") {
    std::ofstream(dir_.File("ingest.toml"))
        << "[queue]\npath = \"" << dir_.File("queue.db") << "\"\nsynchronous = \"normal\"\n"
        << "[ingest]\nlisten = \"127.0.0.1:0\"\nmetrics_listen = \"127.0.0.1:0\"\n"
        << extra_ingest_keys;
    ingest_ = std::make_unique<ChildProcess>(
        "ingest/intercom-ingest",
        std::vector<std::string>{"--config", dir_.File("ingest.toml")}, dir_.File("ingest.log"));
    capture_port_ = std::stoi("0" + ingest_->WaitForLog(
                                        R"(msg=listening address=127\.0\.0\.1:(\d+))"));
    metrics_port_ = std::stoi("0" + ingest_->WaitForLog(
                                        R"(msg=metrics_listening address=127\.0\.0\.1:(\d+))"));
    ASSERT_GT(capture_port_, 0) << ingest_->Log();
    ASSERT_GT(metrics_port_, 0) << ingest_->Log();
  }

  int Capture(const std::string& body) {
    return SendRequest(capture_port_, "POST", "/batch/", body,
                       {{"Content-Type", "application/json"}})
        .status;
  }

  TempDir dir_;
  std::unique_ptr<ChildProcess> ingest_;
  int capture_port_ = 0;
  int metrics_port_ = 0;
};

TEST_F(IngestMetricsTest, CountsAcceptedDuplicateAndRejected) {
  StartIngest("api_keys = [\"phc_good\"]\n");
  std::string two_events =
      R"({"api_key": "phc_good", "batch": [)"
      R"({"event": "signed_up", "distinct_id": "u1", "uuid": "0190a5c1-0000-7000-8000-000000000001"},)"
      R"({"event": "signed_up", "distinct_id": "u2", "uuid": "0190a5c1-0000-7000-8000-000000000002"}]})";
  ASSERT_EQ(Capture(two_events), 200);
  ASSERT_EQ(Capture(two_events), 200);  // the same uuids again: duplicates
  EXPECT_EQ(Capture("not json"), 400);
  EXPECT_EQ(Capture(R"({"api_key": "phc_other", "event": "x", "distinct_id": "u"})"), 401);
  EXPECT_EQ(SendRequest(capture_port_, "GET", "/nowhere").status, 404);

  testing::OpsHttpResult metrics = HttpCall(metrics_port_, "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = metrics.body;
  EXPECT_EQ(SampleValue(text, "intercom_connector_ingest_events_accepted_total"), 2.0) << text;
  EXPECT_EQ(SampleValue(text, "intercom_connector_ingest_events_duplicate_total"), 2.0);
  EXPECT_EQ(SampleValue(text, "intercom_connector_ingest_requests_accepted_total"), 2.0);
  EXPECT_EQ(SampleValue(text,
                        "intercom_connector_ingest_requests_rejected_total{reason=\"invalid_payload\"}"),
            1.0);
  EXPECT_EQ(SampleValue(text,
                        "intercom_connector_ingest_requests_rejected_total{reason=\"invalid_api_key\"}"),
            1.0);
  EXPECT_EQ(SampleValue(text,
                        "intercom_connector_ingest_requests_rejected_total{reason=\"not_found\"}"),
            1.0);
  EXPECT_EQ(SampleValue(text, "intercom_connector_ingest_commit_duration_seconds_count"), 2.0);
  EXPECT_EQ(SampleValue(text,
                        "intercom_connector_ingest_commit_duration_seconds_bucket{le=\"+Inf\"}"),
            2.0);
  EXPECT_EQ(ingest_->Terminate(), 0);
}

TEST_F(IngestMetricsTest, HealthzOnBothPorts) {
  StartIngest();
  testing::OpsHttpResult health = HttpCall(metrics_port_, "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.content_type, "application/json");
  EXPECT_EQ(health.body, R"({"status":"ok"})");
  EXPECT_EQ(HttpCall(metrics_port_, "HEAD", "/healthz").status, 200);
  EXPECT_EQ(SendRequest(capture_port_, "GET", "/healthz").status, 200);
  EXPECT_EQ(ingest_->Terminate(), 0);
}

TEST_F(IngestMetricsTest, MetricsPortRejectsOtherRequests) {
  StartIngest();
  EXPECT_EQ(HttpCall(metrics_port_, "POST", "/metrics").status, 405);
  testing::OpsHttpResult missing = HttpCall(metrics_port_, "GET", "/batch/");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("/metrics"), std::string::npos) << missing.body;
  EXPECT_EQ(ingest_->Terminate(), 0);
}

TEST_F(IngestMetricsTest, BusyMetricsPortDoesNotStopIngest) {
  StartIngest();
  // A second ingest on the same metrics address logs the error and still
  // accepts events on its own capture port.
  std::ofstream(dir_.File("second.toml"))
      << "[queue]\npath = \"" << dir_.File("queue.db") << "\"\nsynchronous = \"normal\"\n"
      << "[ingest]\nlisten = \"127.0.0.1:0\"\nmetrics_listen = \"127.0.0.1:" << metrics_port_
      << "\"\n";
  ChildProcess second("ingest/intercom-ingest",
                      {"--config", dir_.File("second.toml")}, dir_.File("second.log"));
  std::string port = second.WaitForLog(R"(msg=listening address=127\.0\.0\.1:(\d+))");
  ASSERT_FALSE(port.empty()) << second.Log();
  EXPECT_FALSE(second.WaitForLog(R"((level=error msg=metrics_listen_failed))").empty())
      << second.Log();
  // The error names this process's key, and no other binary's default port.
  EXPECT_NE(second.Log().find("set [ingest] metrics_listen to a port"), std::string::npos)
      << second.Log();
  EXPECT_EQ(second.Log().find("127.0.0.1:9465"), std::string::npos) << second.Log();
  EXPECT_EQ(SendRequest(std::stoi(port), "POST", "/capture/",
                        R"({"api_key": "phc", "event": "e", "distinct_id": "u"})",
                        {{"Content-Type", "application/json"}})
                .status,
            200);
  EXPECT_EQ(second.Terminate(), 0);
  EXPECT_EQ(ingest_->Terminate(), 0);
}

TEST_F(IngestMetricsTest, EmptyMetricsListenServesNothing) {
  std::ofstream(dir_.File("ingest.toml"))
      << "[queue]\npath = \"" << dir_.File("queue.db") << "\"\n"
      << "[ingest]\nlisten = \"127.0.0.1:0\"\nmetrics_listen = \"\"\n";
  ChildProcess ingest("ingest/intercom-ingest", {"--config", dir_.File("ingest.toml")},
                      dir_.File("ingest.log"));
  ASSERT_FALSE(ingest.WaitForLog(R"(msg=listening address=127\.0\.0\.1:(\d+))").empty());
  // Read the log after the exit, so a late metrics_listening line cannot be missed.
  EXPECT_EQ(ingest.Terminate(), 0);
  EXPECT_EQ(ingest.Log().find("metrics_listening"), std::string::npos) << ingest.Log();
}

}  // namespace
}  // namespace connector
