// bench-load: sends PostHog capture requests to intercom-ingest from its own
// process, one keep-alive connection per thread, and prints key=value results.
//
// Modes:
//   batch   posthog-node-shaped gzip'd POST /batch/ bodies of --batch-size
//           $identify events, as fast as each connection gets responses. The
//           bodies are built and compressed before the clock starts, so the
//           generator spends its measured time on HTTP only.
//   single  one $identify event per POST /e/, as fast as responses come.
//   paced   one event per POST /e/ at --rate events/s in all, spread over
//           the connections; each event carries bench_sent_us (Unix
//           microseconds at sending) for the end-to-end latency measurement.
// Every mode stops after --seconds or --max-requests, whichever comes first.

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "tools/bench/bench_flags.h"
#include "tools/bench/percentiles.h"
#include "tools/bench/posthog_events.h"

namespace connector::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct LoadSettings {
  std::string mode;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  int connections = 1;
  double seconds = 10;
  int64_t max_requests = 0;
  int batch_size = 100;
  double rate = 100;  // events/s in all, paced mode only
};

// Results of one connection's thread.
struct ConnectionResult {
  int64_t ok = 0;        // 200 responses that arrived before the deadline
  int64_t events = 0;    // events in those requests
  int64_t errors = 0;    // other statuses and network errors
  std::string first_error;
  std::vector<double> latencies_ms;
};

class LoadRun {
 public:
  explicit LoadRun(const LoadSettings& settings)
      : settings_(settings), factory_(RunTag()) {}

  void PrepareBatches() {
    int64_t now_ms = NowUnixMs();
    batches_.reserve(static_cast<size_t>(settings_.max_requests));
    uint64_t n = 0;
    for (int64_t i = 0; i < settings_.max_requests; ++i) {
      std::vector<std::string> events;
      for (int j = 0; j < settings_.batch_size; ++j) events.push_back(factory_.IdentifyEvent(n++, now_ms));
      batches_.push_back(Gzip(factory_.BatchBody(events, now_ms)));
    }
  }

  void Run() {
    results_.resize(static_cast<size_t>(settings_.connections));
    start_ = Clock::now();
    deadline_ = start_ + std::chrono::microseconds(static_cast<int64_t>(settings_.seconds * 1e6));
    std::vector<std::thread> threads;
    for (int i = 0; i < settings_.connections; ++i) {
      threads.emplace_back([this, i] { Connection(i); });
    }
    for (std::thread& thread : threads) thread.join();
    finished_ = std::min(Clock::now(), deadline_);
    if (last_answer_ > start_) finished_ = std::min(finished_, last_answer_);
  }

  void Report() {
    ConnectionResult total;
    int64_t min_ok = -1;
    int64_t max_ok = 0;
    int served = 0;
    for (ConnectionResult& result : results_) {
      total.ok += result.ok;
      total.events += result.events;
      total.errors += result.errors;
      if (total.first_error.empty()) total.first_error = result.first_error;
      total.latencies_ms.insert(total.latencies_ms.end(), result.latencies_ms.begin(),
                                result.latencies_ms.end());
      min_ok = min_ok < 0 ? result.ok : std::min(min_ok, result.ok);
      max_ok = std::max(max_ok, result.ok);
      if (result.ok > 0) ++served;
    }
    double elapsed = std::chrono::duration<double>(finished_ - start_).count();
    std::cout << "mode=" << settings_.mode << "\nconnections=" << settings_.connections
              << "\nconnections_served=" << served << "\nrequests=" << total.ok
              << "\nevents=" << total.events << "\nerrors=" << total.errors
              << "\nfirst_error=\"" << total.first_error << "\""
              << "\nelapsed_s=" << elapsed
              << "\nrequests_per_s=" << static_cast<double>(total.ok) / elapsed
              << "\nevents_per_s=" << static_cast<double>(total.events) / elapsed
              << "\nper_connection_min=" << min_ok << "\nper_connection_max=" << max_ok
              << "\nrequests_exhausted=" << (next_request_.load() >= settings_.max_requests)
              << "\nrequest_p50_ms=" << Quantile(total.latencies_ms, 0.5)
              << "\nrequest_p99_ms=" << Quantile(total.latencies_ms, 0.99) << "\n";
  }

 private:
  static std::string RunTag() {
    std::random_device device;
    char tag[9];
    std::snprintf(tag, sizeof(tag), "%08x", device());
    return tag;
  }

  void Connection(int index) {
    ConnectionResult& result = results_[static_cast<size_t>(index)];
    Poco::Net::HTTPClientSession session(settings_.host, settings_.port);
    session.setKeepAlive(true);
    session.setTimeout(Poco::Timespan(15, 0));
    const bool paced = settings_.mode == "paced";
    const double interval_s = static_cast<double>(settings_.connections) / settings_.rate;
    int64_t sent_here = 0;

    while (Clock::now() < deadline_) {
      int64_t number = next_request_.fetch_add(1);
      if (number >= settings_.max_requests) break;
      if (paced) {
        // Open loop: request k of this connection goes at start + (offset + k) * interval.
        auto due = start_ + std::chrono::microseconds(static_cast<int64_t>(
                                (static_cast<double>(index) / settings_.connections +
                                 static_cast<double>(sent_here)) * interval_s * 1e6));
        if (due >= deadline_) break;
        std::this_thread::sleep_until(due);
      }
      ++sent_here;

      Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST,
                                     settings_.mode == "batch" ? "/batch/" : "/e/",
                                     Poco::Net::HTTPMessage::HTTP_1_1);
      request.setContentType("application/json");
      std::string body;
      int events = 1;
      if (settings_.mode == "batch") {
        request.set("Content-Encoding", "gzip");
        request.set("User-Agent", "posthog-node/5.74.0");
        body = batches_[static_cast<size_t>(number)];
        events = settings_.batch_size;
      } else {
        std::string extra = paced ? "\"bench_sent_us\":" + std::to_string(NowUnixUs()) : "";
        body = factory_.IdentifyEvent(static_cast<uint64_t>(number), NowUnixMs(), extra, true);
      }
      request.setContentLength(static_cast<std::streamsize>(body.size()));

      auto started = Clock::now();
      try {
        session.sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        std::string answer;
        Poco::StreamCopier::copyToString(session.receiveResponse(response), answer);
        auto answered = Clock::now();
        if (answered > deadline_) break;  // only responses inside the window count
        if (response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK) {
          ++result.ok;
          result.events += events;
          result.latencies_ms.push_back(
              std::chrono::duration<double, std::milli>(answered - started).count());
          std::lock_guard<std::mutex> lock(mutex_);
          last_answer_ = std::max(last_answer_, answered);
        } else {
          ++result.errors;
          if (result.first_error.empty()) {
            result.first_error = std::to_string(static_cast<int>(response.getStatus())) + " " + answer;
          }
        }
      } catch (const Poco::Exception& error) {
        ++result.errors;
        if (result.first_error.empty()) result.first_error = error.displayText();
        session.reset();
      }
    }
  }

  const LoadSettings& settings_;
  PosthogEventFactory factory_;
  std::vector<std::string> batches_;  // gzip'd /batch/ bodies, batch mode only
  std::vector<ConnectionResult> results_;
  std::atomic<int64_t> next_request_{0};
  Clock::time_point start_;
  Clock::time_point deadline_;
  Clock::time_point finished_;
  std::mutex mutex_;
  Clock::time_point last_answer_;  // guarded by mutex_
};

int Run(int argc, char** argv) {
  BenchFlags flags(argc, argv);
  LoadSettings settings;
  settings.mode = flags.String("mode", "");
  std::string address = flags.String("address", "");
  settings.connections = static_cast<int>(flags.Integer("connections", 1));
  settings.seconds = flags.Number("seconds", 10);
  settings.max_requests = flags.Integer("max-requests", 1000000);
  settings.batch_size = static_cast<int>(flags.Integer("batch-size", 100));
  settings.rate = flags.Number("rate", 100);
  flags.RejectUnknown();

  if (settings.mode != "batch" && settings.mode != "single" && settings.mode != "paced") {
    throw std::invalid_argument("--mode must be batch, single or paced");
  }
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("missing --address=HOST:PORT");
  settings.host = address.substr(0, colon);
  settings.port = static_cast<uint16_t>(std::stoi(address.substr(colon + 1)));
  if (settings.connections < 1 || settings.rate <= 0 || settings.seconds <= 0) {
    throw std::invalid_argument("--connections, --rate and --seconds must be positive");
  }

  LoadRun run(settings);
  if (settings.mode == "batch") {
    auto started = Clock::now();
    run.PrepareBatches();
    std::cout << "prepare_s=" << std::chrono::duration<double>(Clock::now() - started).count() << "\n";
  }
  run.Run();
  run.Report();
  return 0;
}

}  // namespace
}  // namespace connector::bench

int main(int argc, char** argv) {
  try {
    return connector::bench::Run(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "bench-load: " << error.what() << "\n";
    return 2;
  }
}
