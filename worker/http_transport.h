#pragma once

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/config.h"

namespace connector {

struct HttpRequest {
  std::string method;                  // "POST"
  std::string path;                    // "/events", appended to the base URL's path
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// A response from Intercom, or the network error that replaced it.
struct HttpResponse {
  int status = 0;                      // 0: no response arrived, see `error`
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string error;                   // network error or timeout, when status is 0
  int64_t duration_ms = 0;

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
// an error. connect_timeout bounds the connection; request_timeout bounds
// each wait for the server while sending or receiving.
class PocoTransport final : public HttpTransport {
 public:
  PocoTransport(const IntercomConfig& config, Poco::Net::Context::Ptr tls_context,
                const Clock& clock);
  HttpResponse Send(const HttpRequest& request) override;
  void Abort() override;

 private:
  HttpResponse SendOnce(const HttpRequest& request);

  std::string path_prefix_;
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
  const Clock& clock_;
  int requests_on_connection_ = 0;
  std::atomic<bool> aborted_{false};   // set by Abort() from the stopping thread
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
