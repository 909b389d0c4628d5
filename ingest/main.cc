// intercom-ingest: accepts PostHog capture requests and commits their events
// to the SQLite queue before it responds. See ingest/ingest_server.h.

#include <exception>
#include <iostream>
#include <memory>

#include "common/cli.h"
#include "common/clock.h"
#include "common/database.h"
#include "common/log.h"
#include "common/ops_server.h"
#include "common/stop_signals.h"
#include "ingest/ingest_server.h"

namespace {

constexpr const char* kUsage =
    "Usage: intercom-ingest [--config PATH] [--log-level LEVEL]\n"
    "\n"
    "Accepts PostHog capture requests (/batch/, /e/, /i/v0/e/, /capture/, /track/)\n"
    "and PostHog webhook bodies (/webhook), and commits each request's events to the\n"
    "queue database before answering. GET /healthz checks that the queue takes writes.\n"
    "[ingest] metrics_listen serves Prometheus metrics at /metrics, and /healthz.\n"
    "While the queue cannot be written at start (a full disk, a held lock), waits and\n"
    "retries before it listens.\n"
    "Stops on SIGTERM or SIGINT after finishing the requests in progress.\n"
    "\n";

// Builds the GET /healthz response: 200 while the queue takes writes, else
// 503 with the error and Retry-After: 1, as the capture routes respond when
// a commit fails.
connector::OpsResponse HealthResponse(connector::IngestServer& server) {
  using connector::JsonEscape;
  std::string error = server.CheckQueueWritable();
  connector::OpsResponse response;
  response.content_type = "application/json";
  if (error.empty()) {
    response.body = "{\"status\":\"ok\"}";
  } else {
    response.status = 503;
    response.body = "{\"status\":\"unavailable\",\"error\":\"" + JsonEscape(error) + "\"}";
    response.headers.emplace_back("Retry-After", "1");
  }
  return response;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace connector;

  CommonFlags flags;
  try {
    flags = ParseCommonFlags(argc, argv);
    if (!flags.rest.empty()) {
      throw std::invalid_argument("unknown argument \"" + flags.rest.front() +
                                  "\"; see intercom-ingest --help");
    }
  } catch (const std::invalid_argument& error) {
    std::cerr << "intercom-ingest: " << error.what() << "\n";
    return 2;
  }
  if (flags.help) {
    std::cout << kUsage << CommonFlagsHelp();
    return 0;
  }
  if (flags.version) {
    std::cout << "intercom-ingest " << Version() << "\n";
    return 0;
  }
  log::Setup(flags.log_level);

  // Before any thread starts, so every thread inherits the blocked mask.
  StopSignals stop_signals;

  SystemClock clock;
  try {
    Config config = LoadConfig(flags);

    // A queue that cannot be written yet (a full disk, a lock held past
    // busy_timeout) is waited for, and a stop signal ends the wait.
    std::unique_ptr<IngestServer> server = CreateIngestServerWhenQueueWritable(
        config, clock, [&](Milliseconds delay) { return stop_signals.WaitFor(delay); });
    std::unique_ptr<OpsServer> ops;
    if (server) {
      server->Start();
      ops = StartOpsServer(config.ingest.metrics_listen, "[ingest] metrics_listen",
                           server->metrics(),
                           {{"/healthz", [&server] { return HealthResponse(*server); }}});
      stop_signals.Wait();
    }
    log::Info("stopping", {{"signal", stop_signals.received_name()}});
    if (ops) ops->Stop();
    if (server) server->Stop();
  } catch (const ConfigError& error) {
    // Exit 2 for a configuration the user must fix, as intercom-worker and
    // intercom-queue do; 1 for a failure at run time.
    std::cerr << "intercom-ingest: " << error.what() << "\n";
    return 2;
  } catch (const DatabaseError& error) {
    // Only permanent errors reach here, such as a missing directory,
    // permission denied or a newer schema. Retrying cannot fix them, so the
    // exit code is 2, which the systemd unit does not restart.
    std::cerr << "intercom-ingest: " << error.what() << "\n";
    return 2;
  } catch (const std::exception& error) {
    log::Error("start_failed", {{"error", error.what()}});
    return 1;
  }
  return 0;
}
