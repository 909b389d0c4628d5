#include "common/ops_server.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/URI.h>

#include <cstdio>
#include <stdexcept>

#include "common/listen_error.h"
#include "common/log.h"

namespace connector {
namespace {

// Threads serving scrapes, health checks and the status page. A scrape takes
// milliseconds; two threads let a health check through during a slow scrape.
constexpr int kThreads = 2;
constexpr int kMaxQueuedConnections = 16;
constexpr int kReceiveTimeoutSeconds = 10;

OpsResponse PlainText(int status, const std::string& text) {
  OpsResponse response;
  response.status = status;
  response.body = text + "\n";
  return response;
}

}  // namespace

std::string JsonEscape(const std::string& text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (unsigned char c : text) {
    switch (c) {
      case '"': escaped += "\\\""; break;
      case '\\': escaped += "\\\\"; break;
      case '\n': escaped += "\\n"; break;
      case '\r': escaped += "\\r"; break;
      case '\t': escaped += "\\t"; break;
      default:
        if (c < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
          escaped += buffer;
        } else {
          escaped += static_cast<char>(c);
        }
    }
  }
  return escaped;
}

// Serves one request from the route table; one object per request.
class OpsServer::RequestHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit RequestHandler(const OpsServer& server) : server_(server) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    OpsResponse answer = Answer(request);
    response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(answer.status));
    response.setContentType(answer.content_type);
    response.set("Cache-Control", "no-store");
    for (const auto& [name, value] : answer.headers) response.set(name, value);
    response.setContentLength(static_cast<std::streamsize>(answer.body.size()));
    if (request.getMethod() == "HEAD") {
      response.send();
    } else {
      response.send() << answer.body;
    }
  }

 private:
  OpsResponse Answer(const Poco::Net::HTTPServerRequest& request) {
    std::string path;
    try {
      path = Poco::URI(request.getURI()).getPath();
    } catch (const Poco::Exception&) {
      return PlainText(400, "invalid request URI");
    }
    if (request.getMethod() != "GET" && request.getMethod() != "HEAD") {
      OpsResponse answer = PlainText(405, "method " + request.getMethod() +
                                              " is not allowed on " + path + "; use GET");
      answer.headers.emplace_back("Allow", "GET, HEAD");
      return answer;
    }
    try {
      if (path == "/metrics") {
        OpsResponse answer;
        answer.content_type = kPrometheusContentType;
        answer.body = server_.metrics_.Render();
        return answer;
      }
      auto route = server_.routes_.find(path);
      if (route != server_.routes_.end()) return route->second();
    } catch (const std::exception& error) {
      log::Error("ops_request_failed", {{"path", path}, {"error", error.what()}});
      return PlainText(500, std::string("failed to serve ") + path + ": " + error.what());
    }
    std::string known = "/metrics";
    for (const auto& entry : server_.routes_) known += ", " + entry.first;
    return PlainText(404, "no route for " + path + "; this server serves " + known);
  }

  const OpsServer& server_;
};

class OpsServer::HandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit HandlerFactory(const OpsServer& server) : server_(server) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new RequestHandler(server_);
  }

 private:
  const OpsServer& server_;
};

OpsServer::OpsServer(std::string listen, std::string config_key, const MetricsRegistry& metrics)
    : listen_(std::move(listen)),
      config_key_(std::move(config_key)),
      metrics_(metrics),
      pool_("ops", 1, kThreads) {}

OpsServer::~OpsServer() { Stop(); }

void OpsServer::AddRoute(const std::string& path, Handler handler) {
  routes_[path] = std::move(handler);
}

void OpsServer::Start() {
  Poco::Net::ServerSocket socket;
  try {
    // SO_REUSEADDR without SO_REUSEPORT: a second process must fail to bind
    // rather than share the port and serve half of the scrapes.
    socket.bind(Poco::Net::SocketAddress(listen_), true, false);
    socket.listen(kMaxQueuedConnections);
  } catch (const Poco::Exception& error) {
    throw std::runtime_error(DescribeListenFailure(config_key_, listen_, error));
  }
  address_ = socket.address().toString();

  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(kThreads);
  params->setMaxQueued(kMaxQueuedConnections);
  params->setTimeout(Poco::Timespan(kReceiveTimeoutSeconds, 0));
  // Scrapes come seconds apart; closing each connection lets Stop() finish
  // without waiting for idle keep-alive connections.
  params->setKeepAlive(false);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new HandlerFactory(*this), pool_, socket,
                                                    params);
  server_->start();
  log::Info("metrics_listening", {{"address", address_}});
}

void OpsServer::Stop() {
  if (!server_) return;
  // As in IngestServer::Stop(): stop accepting, let connections finish, then
  // destroy the server to close the listening socket.
  server_->stop();
  pool_.joinAll();
  server_.reset();
}

std::unique_ptr<OpsServer> StartOpsServer(const std::string& listen,
                                          const std::string& config_key,
                                          const MetricsRegistry& metrics,
                                          std::vector<OpsRoute> routes) {
  if (listen.empty()) return nullptr;
  auto ops = std::make_unique<OpsServer>(listen, config_key, metrics);
  for (OpsRoute& route : routes) ops->AddRoute(route.path, std::move(route.handler));
  try {
    ops->Start();
  } catch (const std::exception& error) {
    log::Error("metrics_listen_failed", {{"error", error.what()}});
    return nullptr;
  }
  return ops;
}

}  // namespace connector
