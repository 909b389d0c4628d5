#pragma once

#include <Poco/Net/HTTPServer.h>
#include <Poco/ThreadPool.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/metrics.h"

namespace connector {

// One response of the operations server.
struct OpsResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// The HTTP server on a process's metrics address: GET /metrics renders the
// registry, and the process adds its own routes (/healthz, a status page).
// Only GET and HEAD are served. Runs on its own small thread pool so a slow
// scraper never takes a thread from the capture or delivery paths.
//
// AddRoute() is called before Start(); Start() and Stop() from one
// controlling thread. Route handlers run on the server's threads and must be
// thread-safe.
class OpsServer {
 public:
  using Handler = std::function<OpsResponse()>;

  // `listen` is HOST:PORT (port 0 picks a free port); `config_key` names the
  // setting in error messages, such as "[worker] metrics_listen".
  OpsServer(std::string listen, std::string config_key, const MetricsRegistry& metrics);
  ~OpsServer();
  OpsServer(const OpsServer&) = delete;
  OpsServer& operator=(const OpsServer&) = delete;

  void AddRoute(const std::string& path, Handler handler);

  // Binds the address and starts serving; logs msg=metrics_listening with
  // the bound address. Throws std::runtime_error naming the config key when
  // the address cannot be bound.
  void Start();

  // Stops accepting, finishes the requests in progress and closes the socket.
  // Idempotent.
  void Stop();

  // The bound address as "host:port"; empty before Start().
  const std::string& address() const { return address_; }

 private:
  class RequestHandler;
  class HandlerFactory;

  std::string listen_;
  std::string config_key_;
  const MetricsRegistry& metrics_;
  std::map<std::string, Handler> routes_;  // read-only after Start()
  Poco::ThreadPool pool_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  std::string address_;
};

// One route of an OpsServer: the path and the handler that serves it.
struct OpsRoute {
  std::string path;
  OpsServer::Handler handler;
};

// Starts an OpsServer on `listen` with `routes` and returns it. Returns null
// when `listen` is empty (the process serves no metrics) or cannot be bound:
// metrics must not stop a process from doing its work, so a busy port is
// logged as msg=metrics_listen_failed and the process runs without it.
// `config_key` names the setting in the error, such as "[worker] metrics_listen".
std::unique_ptr<OpsServer> StartOpsServer(const std::string& listen,
                                          const std::string& config_key,
                                          const MetricsRegistry& metrics,
                                          std::vector<OpsRoute> routes);

// Returns `text` with the characters JSON strings must escape escaped, for
// handlers that build JSON by hand.
std::string JsonEscape(const std::string& text);

}  // namespace connector
