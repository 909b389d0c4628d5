#pragma once

#include <Poco/Net/HTTPServer.h>
#include <Poco/ThreadPool.h>

#include <functional>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/config.h"
#include "common/metrics.h"
#include "common/queue_wait.h"
#include "ingest/group_commit_writer.h"
#include "ingest/ingest_metrics.h"
#include "ingest/request_handlers.h"

namespace connector {

// intercom-ingest as an object: a Poco HTTPServer with a bounded thread pool
// in front of one GroupCommitWriter. Tests run it in-process; main() runs one
// until SIGTERM or SIGINT.
//
// Start() and Stop() are called from one controlling thread. Requests run on
// the pool's threads, commits on the writer's.
class IngestServer {
 public:
  // Opens the queue and binds the listen address (port 0 picks a free port).
  // Throws DatabaseError when the queue cannot be opened and
  // std::runtime_error naming [ingest] listen when the address cannot be bound.
  // `clock` must outlive the server.
  IngestServer(const Config& config, const Clock& clock);
  ~IngestServer();
  IngestServer(const IngestServer&) = delete;
  IngestServer& operator=(const IngestServer&) = delete;

  // Starts accepting connections and logs msg=listening with the bound address.
  void Start();

  // Stops accepting connections, lets in-flight requests finish (their
  // commits included), stops the writer and logs msg=stopped. Idempotent.
  void Stop();

  // The bound address as "host:port", with the real port when listen had port 0.
  std::string address() const;

  const GroupCommitWriter& writer() const { return *writer_; }

  // The server's metrics, for an OpsServer to render. Thread-safe.
  MetricsRegistry& metrics() { return metrics_; }

  // Runs an empty write transaction, as GET /healthz does. Returns an empty
  // string when the queue takes writes, otherwise the error. Thread-safe.
  std::string CheckQueueWritable();

 private:
  Config config_;
  MetricsRegistry metrics_;
  IngestMetrics ingest_metrics_{metrics_};
  std::unique_ptr<GroupCommitWriter> writer_;
  IngestContext context_;
  Poco::ThreadPool pool_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  std::string address_;
  bool started_ = false;
  bool stopped_ = false;
};

// Creates an IngestServer, not yet started. While the queue cannot be written
// yet, waits and retries as OpenWhenQueueWritable() (common/queue_wait.h)
// describes. Returns nullptr when `wait` returns false. Throws a permanent
// DatabaseError at once, and whatever else the constructor throws.
std::unique_ptr<IngestServer> CreateIngestServerWhenQueueWritable(const Config& config,
                                                                  const Clock& clock,
                                                                  const RetryWait& wait);

}  // namespace connector
