#include "ingest/ingest_server.h"

#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "common/listen_error.h"
#include "common/log.h"

namespace connector {
namespace {

// How long the server waits for each read of a request header before it
// closes the connection, or less when [ingest] request_timeout is lower.
// posthog-node gives up after 10 s. The body is bounded as a whole by
// request_timeout, and an idle kept-alive connection by kKeepAliveTimeoutSeconds.
constexpr std::chrono::milliseconds kReceiveTimeout{10000};
constexpr int kKeepAliveTimeoutSeconds = 5;

// How long an idle dispatcher thread waits for a connection before it checks
// whether the server stopped. Poco 1.11's TCPServerDispatcher::stop() queues a
// single stop notification, so when more than one thread is idle (a thread
// started for a connection that another thread took first), the others see the
// stop only when this wait ends. Poco's default of 10 s made Stop() take 10 s.
constexpr int kThreadIdleMilliseconds = 100;

Poco::Net::ServerSocket Bind(const std::string& listen, int backlog) {
  try {
    Poco::Net::SocketAddress address(listen);
    Poco::Net::ServerSocket socket;
    // SO_REUSEADDR without SO_REUSEPORT: a second ingest on the same port must
    // fail to start rather than share the port and split events between queues.
    socket.bind(address, true, false);
    socket.listen(backlog);
    return socket;
  } catch (const Poco::Exception& error) {
    throw std::runtime_error(DescribeListenFailure("[ingest] listen", listen, error));
  }
}

}  // namespace

IngestServer::IngestServer(const Config& config, const Clock& clock)
    : config_(config),
      writer_(std::make_unique<GroupCommitWriter>(config.queue)),
      pool_("ingest", 2, config.ingest.threads) {
  context_.config = config_.ingest;
  context_.writer = writer_.get();
  context_.clock = &clock;
  context_.metrics = &ingest_metrics_;

  Poco::Net::ServerSocket socket = Bind(config_.ingest.listen, config_.ingest.max_queued_connections);
  address_ = socket.address().toString();

  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(config_.ingest.threads);
  params->setMaxQueued(config_.ingest.max_queued_connections);
  Milliseconds receive_timeout = std::min(kReceiveTimeout, config_.ingest.request_timeout);
  params->setTimeout(Poco::Timespan(receive_timeout.count() * 1000));
  params->setKeepAlive(true);
  params->setKeepAliveTimeout(Poco::Timespan(kKeepAliveTimeoutSeconds, 0));
  params->setThreadIdleTime(Poco::Timespan(kThreadIdleMilliseconds * 1000));
  params->setServerName("intercom-ingest");
  server_ = std::make_unique<Poco::Net::HTTPServer>(new IngestRequestHandlerFactory(context_),
                                                    pool_, socket, params);
  context_.server = server_.get();
}

IngestServer::~IngestServer() { Stop(); }

void IngestServer::Start() {
  server_->start();
  started_ = true;
  log::Info("listening", {{"address", address_},
                          {"database", config_.queue.path},
                          {"schema_version", writer_->schema_version()},
                          {"threads", config_.ingest.threads},
                          {"api_keys", static_cast<int>(config_.ingest.api_keys.size())}});
}

void IngestServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (started_) {
    // Stop accepting, then let each connection finish: a request in progress
    // completes and closes its connection, and an idle keep-alive connection
    // closes after kKeepAliveTimeoutSeconds. HTTPServer::stopAll() would close
    // them sooner, but in Poco 1.11 its notification races with connections
    // that end at the same moment (ThreadSanitizer reports it), so it is not used.
    context_.stopping = true;
    server_->stop();
    pool_.joinAll();
  }
  // Poco's TCPServer::stop() leaves the listening socket open, so the kernel
  // would keep accepting connections that no thread serves; destroying the
  // server closes it.
  server_.reset();
  writer_->Stop();
  if (started_) {
    log::Info("stopped", {{"address", address_},
                          {"transactions", writer_->transactions()},
                          {"requests", writer_->requests()}});
  }
}

std::string IngestServer::address() const { return address_; }

std::string IngestServer::CheckQueueWritable() {
  CommitOutcome outcome = writer_->Commit({});
  return outcome.committed ? "" : outcome.error;
}

std::unique_ptr<IngestServer> CreateIngestServerWhenQueueWritable(const Config& config,
                                                                  const Clock& clock,
                                                                  const RetryWait& wait) {
  std::unique_ptr<IngestServer> server;
  bool opened = OpenWhenQueueWritable(
      [&] { server = std::make_unique<IngestServer>(config, clock); }, wait);
  if (!opened) return nullptr;
  return server;
}

}  // namespace connector
