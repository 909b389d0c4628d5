#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/metrics.h"
#include "common/queue_wait.h"
#include "worker/delivery_recorder.h"
#include "worker/event_delivery.h"
#include "worker/event_queue.h"
#include "worker/http_transport.h"
#include "worker/queue_status.h"
#include "worker/random.h"
#include "worker/status_page.h"
#include "worker/worker_metrics.h"

namespace connector {

// Makes the transport for one delivery thread.
using TransportFactory = std::function<std::unique_ptr<HttpTransport>()>;

// Drains the queue into Intercom. Threads:
//   - the claimer leases due rows into a bounded buffer, watches
//     PRAGMA data_version when idle, and prunes finished rows;
//   - worker.concurrency delivery threads, each with its own EventDelivery
//     and keep-alive connection, take events from the buffer;
//   - the DeliveryRecorder thread commits outcomes in batches.
// Start() and Stop() are called from one controlling thread.
class Worker {
 public:
  // Without a factory the worker uses Intercom over HTTPS, or, when
  // intercom.api_key is empty, the dry-run file.
  Worker(Config config, const Clock& clock, Random& random, TransportFactory factory = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Opens the queue and starts the threads. Throws DatabaseError or
  // std::runtime_error (an unreadable ca_file or dry-run file). Opening the
  // queue is all or nothing, so after a DatabaseError Start() may be called
  // again.
  void Start();

  // Opens the queue, calls Start() and returns true. While the queue cannot
  // be written yet, waits and retries as OpenWhenQueueWritable()
  // (common/queue_wait.h) describes. Returns false, without starting, when
  // `wait` returns false. Throws what Start() throws, and a permanent
  // DatabaseError at once.
  bool StartWhenQueueWritable(const RetryWait& wait);

  // Stops claiming, lets in-flight requests finish (cutting them off after
  // worker.shutdown_timeout), hands every event still held back to the queue
  // as pending and commits all outcomes. Nothing stays leased afterwards.
  void Stop();

  const std::string& id() const { return id_; }

  // The worker's metrics, for an OpsServer to render. Queue gauges are read
  // from the database on scrape once Start() has run. Thread-safe.
  MetricsRegistry& metrics() { return metrics_; }

  // Whether delivery is paused for a rejected token, and why. Call after
  // Start(). Thread-safe.
  PauseState pause_state() const;

  // Reads the queue for the status page (cached for a second). Call after
  // Start(). Thread-safe; throws SQLite::Exception when the queries fail.
  QueueStatus ReadStatus();

 private:
  // Opens the claimer's, the recorder's and the status reader's connections,
  // all or none.
  void OpenConnections();
  void ClaimLoop();
  void DeliveryLoop(size_t index);
  // Sleeps until `until_ms` on the injected clock in short real-time steps;
  // returns false as soon as the worker is stopping.
  bool WaitUntil(int64_t until_ms);
  // Sleeps for a real-time duration, or until the worker is stopping.
  void SleepFor(Milliseconds duration);
  void IdleWait(int64_t& data_version);
  void MaybePrune(int64_t& next_prune_ms);
  void CountCompletion(const ClaimedEvent& event, const Completion& completion);
  void UpdateScrapedGauges();
  TransportFactory DefaultFactory();

  Config config_;
  const Clock& clock_;
  Random& random_;
  TransportFactory factory_;
  std::string id_;
  MetricsRegistry metrics_;
  WorkerMetrics worker_metrics_{metrics_};

  std::unique_ptr<DryRunFile> dry_run_file_;
  std::unique_ptr<DeliveryPolicy> policy_;
  std::unique_ptr<EventQueue> queue_;          // claimer thread only (and Stop, after it ends)
  std::unique_ptr<DeliveryRecorder> recorder_;
  std::unique_ptr<QueueStatusReader> status_reader_;  // its own connection; thread-safe
  std::vector<std::unique_ptr<EventDelivery>> deliveries_;  // one per delivery thread

  std::mutex mutex_;
  std::condition_variable changed_;            // buffer, in-flight count or stopping changed
  std::deque<ClaimedEvent> buffer_;            // guarded by mutex_
  size_t in_flight_ = 0;                       // guarded by mutex_
  size_t running_deliveries_ = 0;              // guarded by mutex_
  std::atomic<bool> stopping_{false};
  bool started_ = false;

  std::thread claimer_;
  std::vector<std::thread> delivery_threads_;
};

// Returns a worker id for lease_owner: host name, process id and a random
// suffix, so two workers never share one.
std::string MakeWorkerId();

}  // namespace connector
