// intercom-worker: delivers queued PostHog events to Intercom's POST /events.

#include <iostream>
#include <memory>
#include <vector>

#include "common/cli.h"
#include "common/database.h"
#include "common/log.h"
#include "common/ops_server.h"
#include "common/stop_signals.h"
#include "worker/worker.h"

namespace {

const char kUsage[] =
    "Usage: intercom-worker [--config PATH] [--log-level LEVEL]\n"
    "\n"
    "Claims due events from the queue database and sends the matching ones to\n"
    "Intercom's POST /events, recording every attempt. Without an API token\n"
    "(intercom.api_key or INTERCOM_API_KEY) it writes each request it would send\n"
    "as one JSON line to worker.dry_run_file and treats it as delivered.\n"
    "worker.metrics_listen serves Prometheus metrics at /metrics, /healthz (503 while\n"
    "delivery is paused for a rejected token) and a status page at /.\n"
    "When the queue cannot be written at start (a full disk, a lock held past\n"
    "queue.busy_timeout) it waits and retries, up to every 5 s, and then starts.\n"
    "Stops cleanly on SIGTERM or SIGINT, also while it waits.\n"
    "\n";

// Builds the GET /healthz response: 200 while delivering, 503 while delivery is paused
// because Intercom rejects the token, so a supervisor or load balancer sees
// a worker that cannot deliver anything.
connector::OpsResponse HealthResponse(const connector::Worker& worker) {
  using connector::JsonEscape;
  connector::PauseState pause = worker.pause_state();
  connector::OpsResponse response;
  response.content_type = "application/json";
  if (!pause.paused) {
    response.body = "{\"status\":\"ok\"}";
    return response;
  }
  response.status = 503;
  response.body = "{\"status\":\"paused\",\"error\":\"" + JsonEscape(pause.cause) + "\"}";
  return response;
}

// Returns the worker's routes besides /metrics: /healthz, the status page at
// / and the JSON it reads.
std::vector<connector::OpsRoute> OpsRoutes(connector::Worker& worker) {
  using namespace connector;
  std::vector<OpsRoute> routes;
  routes.push_back({"/healthz", [&worker] { return HealthResponse(worker); }});
  routes.push_back({"/status.json", [&worker] {
    OpsResponse response;
    response.content_type = "application/json";
    response.body = StatusJson(worker.ReadStatus(), worker.pause_state(), worker.id());
    return response;
  }});
  routes.push_back({"/", [] {
    OpsResponse response;
    response.content_type = "text/html; charset=utf-8";
    response.body = StatusPageHtml();
    // The page runs only its own inline script and reads only this server.
    response.headers.emplace_back(
        "Content-Security-Policy",
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self'");
    return response;
  }});
  return routes;
}

}  // namespace

int main(int argc, char** argv) {
  connector::CommonFlags flags;
  try {
    flags = connector::ParseCommonFlags(argc, argv);
    if (!flags.rest.empty()) {
      throw std::invalid_argument("unknown argument \"" + flags.rest.front() + "\"; see --help");
    }
  } catch (const std::invalid_argument& error) {
    std::cerr << "intercom-worker: " << error.what() << "\n";
    return 2;
  }
  if (flags.help) {
    std::cout << kUsage << connector::CommonFlagsHelp();
    return 0;
  }
  if (flags.version) {
    std::cout << "intercom-worker " << connector::Version() << "\n";
    return 0;
  }

  // Before any thread starts, so every thread inherits the blocked mask.
  connector::StopSignals stop_signals;

  connector::log::Setup(flags.log_level);
  try {
    connector::Config config = connector::LoadConfig(flags);
    connector::SystemClock clock;
    connector::SystemRandom random;
    connector::Worker worker(config, clock, random);

    // A queue that cannot be written yet (a full disk, a lock held past
    // busy_timeout) is waited for, and a stop signal ends the wait.
    bool started = worker.StartWhenQueueWritable(
        [&](connector::Milliseconds delay) { return stop_signals.WaitFor(delay); });
    std::unique_ptr<connector::OpsServer> ops;
    if (started) {
      ops = connector::StartOpsServer(config.worker.metrics_listen, "[worker] metrics_listen",
                                      worker.metrics(), OpsRoutes(worker));
      stop_signals.Wait();
    }
    connector::log::Info("signal", {{"signal", stop_signals.received_name()}});
    if (ops) ops->Stop();
    worker.Stop();
  } catch (const connector::ConfigError& error) {
    std::cerr << "intercom-worker: " << error.what() << "\n";
    return 2;
  } catch (const connector::DatabaseError& error) {
    // Only permanent errors reach here, such as a missing directory,
    // permission denied or a newer schema. Like a bad configuration, they
    // need an operator, and retrying cannot help.
    std::cerr << "intercom-worker: " << error.what() << "\n";
    return 2;
  } catch (const std::exception& error) {
    connector::log::Error("start_failed", {{"error", error.what()}});
    return 1;
  }
  return 0;
}
