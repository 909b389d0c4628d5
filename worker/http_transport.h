#pragma once

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPResponse.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <istream>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "worker/request_watchdog.h"

namespace connector {

struct HttpRequest {
  std::string method;                  // "POST"
  std::string path;                    // "/events", appended to the base URL's path
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Maximum response body the worker reads, in bytes. Intercom's bodies are small
// JSON: an empty 202, an error.list of a few hundred bytes, or a contact
// search page of up to 50 contacts (estimated at a few KiB each). A larger
// body is not Intercom's, and reading it without a limit let one response
// take gigabytes of memory.
inline constexpr size_t kMaxResponseBodyBytes = 1024 * 1024;

// A response from Intercom, or the network error that replaced it.
struct HttpResponse {
  int status = 0;                      // 0: no complete response arrived, see `error`
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;                    // at most kMaxResponseBodyBytes
  // The body was longer than kMaxResponseBodyBytes: `body` contains its
  // first kMaxResponseBodyBytes bytes, the rest was not read, and the
  // connection was closed.
  bool body_too_large = false;
  std::string error;                   // network error or timeout, when status is 0
  int64_t duration_ms = 0;
  // Path of the dry-run file the request was written to instead of being
  // sent, or "" when it was sent.
  std::string dry_run_file;

  // Returns the first header named `name` (case-insensitive), or "".
  std::string Header(const std::string& name) const;
};

// Sends requests to Intercom. Each delivery thread owns one transport, so an
// implementation need not be thread-safe, except for Abort(), which another
// thread may call to cut a request short at shutdown.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual HttpResponse Send(const HttpRequest& request) = 0;
  virtual void Abort() {}
};

// Builds the TLS context every HTTPS session shares: the peer's certificate
// and host name are verified against the system's CAs plus `ca_file` (when
// set). Throws std::runtime_error naming ca_file when it cannot be loaded.
Poco::Net::Context::Ptr MakeTlsContext(const IntercomConfig& config);

// A keep-alive HTTP or HTTPS connection to intercom.base_url, reopened after
// an error. request_timeout bounds each whole Send(): connecting, sending,
// the headers and the body, and the one resend on a new connection when a
// kept-alive one turns out closed. connect_timeout bounds each connection
// attempt within that. A request past its deadline ends with an error that
// starts with "timed out".
class PocoTransport final : public HttpTransport {
 public:
  PocoTransport(const IntercomConfig& config, Poco::Net::Context::Ptr tls_context,
                const Clock& clock);
  HttpResponse Send(const HttpRequest& request) override;
  void Abort() override;

 private:
  using Deadline = std::chrono::steady_clock::time_point;

  HttpResponse SendOnce(const HttpRequest& request, Deadline deadline);
  // Reads at most kMaxResponseBodyBytes of the body, and sets `error` when
  // the body ends early or cannot be read.
  void ReadBody(std::istream& in, const Poco::Net::HTTPResponse& head, HttpResponse& response);
  // Returns Poco's message, or for a response cut short by the end of the
  // stream, a message that names the early close.
  std::string DescribeFailure(const Poco::Exception& error) const;

  std::string path_prefix_;
  Milliseconds connect_timeout_;
  Milliseconds request_timeout_;
  // Declared before session_, so the session closes its socket before the
  // transport lets go of the watchdog.
  std::shared_ptr<RequestWatchdog> watchdog_;
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
  const Clock& clock_;
  int requests_on_connection_ = 0;
};

// The file that receives, one JSON line each, the requests the worker would
// send when no API token is configured. Shared by every dry-run transport;
// thread-safe.
class DryRunFile {
 public:
  // Throws std::runtime_error naming the file when it cannot be opened.
  explicit DryRunFile(const std::string& path);
  void Append(const std::string& line);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::mutex mutex_;
  std::ofstream out_;
};

// Writes each request to a DryRunFile as {"method", "url", "headers", "body"}
// (the Authorization header left out) and returns 202, so the whole delivery
// path runs without an Intercom workspace.
class DryRunTransport final : public HttpTransport {
 public:
  DryRunTransport(std::string base_url, DryRunFile& file) : base_url_(std::move(base_url)), file_(file) {}
  HttpResponse Send(const HttpRequest& request) override;

 private:
  std::string base_url_;
  DryRunFile& file_;
};

}  // namespace connector
