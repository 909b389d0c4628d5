#pragma once

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/TCPServer.h>

#include <atomic>
#include <string>

#include "common/clock.h"
#include "common/config.h"
#include "common/event_normalizer.h"
#include "ingest/group_commit_writer.h"
#include "ingest/ingest_metrics.h"
#include "ingest/rejection_log_limiter.h"

namespace connector {

// State shared by every request handler. Owned by IngestServer, which
// outlives all handlers. Every member is read-only or thread-safe.
struct IngestContext {
  IngestConfig config;
  GroupCommitWriter* writer = nullptr;
  EventNormalizer normalizer;
  const Clock* clock = nullptr;
  IngestMetrics* metrics = nullptr;    // thread-safe; owned by IngestServer
  // Mutable because handlers see the context as const; the limiter locks itself.
  mutable RejectionLogLimiter rejection_log{kMaxRejectionLinesPerSecond};
  // Set by IngestServer::Stop(): each response then closes its connection.
  std::atomic<bool> stopping{false};
  // The server the handlers run in, for the number of accepted connections
  // waiting for a pool thread. Set by IngestServer before it starts.
  const Poco::Net::TCPServer* server = nullptr;

  static constexpr int kMaxRejectionLinesPerSecond = 20;
};

// The kinds of route intercom-ingest serves.
enum class Route {
  kCapture,   // /batch, /e, /i/v0/e, /capture, /track (with or without trailing slash)
  kWebhook,   // /webhook: PostHog's HTTP Webhook destination
  kHealth,    // /healthz
  kNotFound,
};

// Maps a request path to its route.
Route RouteForPath(const std::string& path);

// Creates one handler object per request (Poco deletes it after the request).
// Called on Poco's HTTP threads; stateless apart from the shared context.
class IngestRequestHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit IngestRequestHandlerFactory(const IngestContext& context) : context_(context) {}

  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest& request) override;

 private:
  const IngestContext& context_;
};

}  // namespace connector
