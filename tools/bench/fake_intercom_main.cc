// bench-fake-intercom: plays Intercom's POST /events for the worker benchmarks,
// in its own process so its CPU time is not charged to the worker.
//
// Every request gets 202 (after --delay-ms), unless --window-limit is
// set: then at most that many requests are accepted per --window-seconds
// window (windows aligned to Unix time, as Intercom's 10 s windows are), each
// response carries X-RateLimit-Limit/-Remaining/-Reset, and requests over the
// limit get 429 with Intercom's rate_limit_exceeded error.
//
// GET /bench/stats[?from_s=S&to_s=T] returns key=value lines: totals, the
// counts whose arrival second is in [S, T), and the latency percentiles of
// requests whose metadata carries bench_sent_us (Unix microseconds when the
// load generator sent the event to ingest).
// Stops on SIGTERM or SIGINT, or after --max-seconds.

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <signal.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "tools/bench/bench_flags.h"
#include "tools/bench/percentiles.h"
#include "tools/bench/posthog_events.h"

namespace connector::bench {
namespace {

struct SecondCounts {
  int64_t accepted = 0;
  int64_t rate_limited = 0;
};

struct FakeSettings {
  int64_t delay_ms = 0;
  int64_t window_limit = 0;    // requests accepted per window; 0: no limit
  int64_t window_seconds = 10;
};

// Counts and latencies of the requests the fake received. Thread-safe:
// every handler thread records into it.
class FakeStats {
 public:
  // Returns the status to send and sets the values for the rate-limit headers.
  int Admit(const FakeSettings& settings, int64_t now_ms, int64_t& remaining, int64_t& reset_s) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++requests_;
    int64_t second = now_ms / 1000;
    int status = 202;
    if (settings.window_limit > 0) {
      int64_t window = second / settings.window_seconds;
      if (window != window_) {
        window_ = window;
        used_in_window_ = 0;
      }
      reset_s = (window + 1) * settings.window_seconds;
      if (used_in_window_ >= settings.window_limit) {
        status = 429;
      } else {
        ++used_in_window_;
      }
      remaining = settings.window_limit - used_in_window_;
    }
    if (status == 202) {
      ++accepted_;
      ++by_second_[second].accepted;
    } else {
      ++rate_limited_;
      ++by_second_[second].rate_limited;
    }
    return status;
  }

  void RecordLatency(double latency_ms) {
    std::lock_guard<std::mutex> lock(mutex_);
    latencies_ms_.push_back(latency_ms);
  }

  std::string Report(int64_t from_s, int64_t to_s) {
    std::vector<double> latencies;
    std::ostringstream out;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      latencies = latencies_ms_;
      SecondCounts in_range;
      for (auto it = by_second_.lower_bound(from_s); it != by_second_.end() && it->first < to_s;
           ++it) {
        in_range.accepted += it->second.accepted;
        in_range.rate_limited += it->second.rate_limited;
      }
      out << "requests=" << requests_ << "\naccepted=" << accepted_
          << "\nrate_limited=" << rate_limited_ << "\nrange_accepted=" << in_range.accepted
          << "\nrange_rate_limited=" << in_range.rate_limited << "\n";
    }
    out << "latency_count=" << latencies.size() << "\n";
    out << "latency_p50_ms=" << Quantile(latencies, 0.50) << "\n";
    out << "latency_p99_ms=" << Quantile(latencies, 0.99) << "\n";
    out << "latency_max_ms=" << Quantile(latencies, 1.0) << "\n";
    return out.str();
  }

 private:
  std::mutex mutex_;
  int64_t requests_ = 0;
  int64_t accepted_ = 0;
  int64_t rate_limited_ = 0;
  int64_t window_ = -1;
  int64_t used_in_window_ = 0;
  std::map<int64_t, SecondCounts> by_second_;  // Unix second -> counts
  std::vector<double> latencies_ms_;
};

// Returns the integer after "bench_sent_us": in `body`, or -1. A string
// search, not a JSON parse, so the fake spends little CPU per request.
int64_t FindSentMicros(const std::string& body) {
  static const std::string kKey = "\"bench_sent_us\":";
  size_t at = body.find(kKey);
  if (at == std::string::npos) return -1;
  const char* start = body.c_str() + at + kKey.size();
  while (*start == ' ' || *start == '"') ++start;
  char* end = nullptr;
  long long value = std::strtoll(start, &end, 10);
  return end == start ? -1 : static_cast<int64_t>(value);
}

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  Handler(const FakeSettings& settings, FakeStats& stats) : settings_(settings), stats_(stats) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    std::string body;
    Poco::StreamCopier::copyToString(request.stream(), body);
    Poco::URI uri(request.getURI());
    if (request.getMethod() == "GET" && uri.getPath() == "/bench/stats") {
      SendStats(uri, response);
      return;
    }

    int64_t arrived_us = NowUnixUs();
    int64_t sent_us = FindSentMicros(body);
    if (sent_us > 0) stats_.RecordLatency(static_cast<double>(arrived_us - sent_us) / 1000.0);
    if (settings_.delay_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(settings_.delay_ms));
    }

    int64_t remaining = 0;
    int64_t reset_s = 0;
    int status = stats_.Admit(settings_, NowUnixMs(), remaining, reset_s);
    std::string answer;
    if (settings_.window_limit > 0) {
      // Intercom's API 2.17 reference shows the per-window count here, such
      // as 167 for 1,000 requests a minute.
      response.set("X-RateLimit-Limit", std::to_string(settings_.window_limit));
      response.set("X-RateLimit-Remaining", std::to_string(remaining));
      response.set("X-RateLimit-Reset", std::to_string(reset_s));
    }
    if (status == 429) {
      response.setContentType("application/json");
      answer = "{\"type\":\"error.list\",\"request_id\":\"bench\",\"errors\":[{\"code\":"
               "\"rate_limit_exceeded\",\"message\":\"Exceeded rate limit of " +
               std::to_string(settings_.window_limit) + " in " +
               std::to_string(settings_.window_seconds) + "_seconds\"}]}";
    }
    response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    response.setContentLength(static_cast<std::streamsize>(answer.size()));
    response.send() << answer;
  }

 private:
  void SendStats(const Poco::URI& uri, Poco::Net::HTTPServerResponse& response) {
    int64_t from_s = 0;
    int64_t to_s = 0;
    for (const auto& [key, value] : uri.getQueryParameters()) {
      if (key == "from_s") from_s = std::stoll(value);
      if (key == "to_s") to_s = std::stoll(value);
    }
    std::string text = stats_.Report(from_s, to_s);
    response.setContentType("text/plain");
    response.setContentLength(static_cast<std::streamsize>(text.size()));
    response.send() << text;
  }

  const FakeSettings& settings_;
  FakeStats& stats_;
};

class HandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  HandlerFactory(const FakeSettings& settings, FakeStats& stats)
      : settings_(settings), stats_(stats) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler(settings_, stats_);
  }

 private:
  const FakeSettings& settings_;
  FakeStats& stats_;
};

int Run(int argc, char** argv) {
  BenchFlags flags(argc, argv);
  FakeSettings settings;
  settings.delay_ms = flags.Integer("delay-ms", 0);
  settings.window_limit = flags.Integer("window-limit", 0);
  settings.window_seconds = flags.Integer("window-seconds", 10);
  if (settings.window_seconds < 1) throw std::invalid_argument("--window-seconds must be at least 1");
  std::string port_file = flags.String("port-file", "");
  int64_t max_seconds = flags.Integer("max-seconds", 600);
  int64_t threads = flags.Integer("threads", 64);
  flags.RejectUnknown();
  if (port_file.empty()) throw std::invalid_argument("missing --port-file=PATH");

  // Block the stop signals before any thread starts, so only sigtimedwait receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  FakeStats stats;
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0), 256);
  auto* params = new Poco::Net::HTTPServerParams;
  // Each keep-alive connection occupies a thread, so allow more threads
  // than the worker's largest concurrency.
  params->setMaxThreads(static_cast<int>(threads));
  params->setMaxQueued(256);
  params->setKeepAlive(true);
  params->setMaxKeepAliveRequests(0);
  Poco::ThreadPool pool("fake", 2, static_cast<int>(threads));
  Poco::Net::HTTPServer server(new HandlerFactory(settings, stats), pool, socket, params);
  server.start();

  // Written after the server listens, so the harness may connect once it reads the port.
  {
    std::ofstream out(port_file + ".tmp");
    out << socket.address().port() << "\n";
  }
  std::rename((port_file + ".tmp").c_str(), port_file.c_str());

  timespec timeout{static_cast<time_t>(max_seconds), 0};
  sigtimedwait(&stop_signals, nullptr, &timeout);
  server.stopAll(true);
  pool.joinAll();
  std::cout << stats.Report(0, 0);
  return 0;
}

}  // namespace
}  // namespace connector::bench

int main(int argc, char** argv) {
  try {
    return connector::bench::Run(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "bench-fake-intercom: " << error.what() << "\n";
    return 2;
  }
}
