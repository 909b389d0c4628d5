#include "worker/worker.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "common/database.h"
#include "common/log.h"

namespace connector {
namespace {

// The maximum real-time sleep between checks of the injected clock, so a
// test's clock and a stop request are both noticed quickly.
constexpr int64_t kMaxSleepStepMs = 20;

}  // namespace

std::string MakeWorkerId() {
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "unknown");
  std::random_device device;
  char suffix[9];
  std::snprintf(suffix, sizeof(suffix), "%08x", device());
  return std::string(host) + ":" + std::to_string(::getpid()) + ":" + suffix;
}

Worker::Worker(Config config, const Clock& clock, Random& random, TransportFactory factory)
    : config_(std::move(config)),
      clock_(clock),
      random_(random),
      factory_(std::move(factory)),
      id_(MakeWorkerId()) {}

Worker::~Worker() { Stop(); }

TransportFactory Worker::DefaultFactory() {
  if (config_.intercom.api_key.empty()) {
    dry_run_file_ = std::make_unique<DryRunFile>(config_.worker.dry_run_file);
    log::Warn("dry_run", {{"file", config_.worker.dry_run_file},
                          {"detail", "no intercom.api_key or INTERCOM_API_KEY set; requests are "
                                     "written to the file and treated as delivered"}});
    std::string base_url = config_.intercom.base_url;
    DryRunFile* file = dry_run_file_.get();
    return [base_url, file] { return std::make_unique<DryRunTransport>(base_url, *file); };
  }
  Poco::Net::Context::Ptr tls = MakeTlsContext(config_.intercom);
  const IntercomConfig* intercom = &config_.intercom;
  const Clock* clock = &clock_;
  return [intercom, tls, clock] { return std::make_unique<PocoTransport>(*intercom, tls, *clock); };
}

void Worker::OpenConnections() {
  auto queue = std::make_unique<EventQueue>(config_.queue, id_, clock_, config_.worker.lease);
  auto recorder = std::make_unique<DeliveryRecorder>(config_.queue, id_, clock_);
  auto status_reader = std::make_unique<QueueStatusReader>(config_.queue, clock_);
  queue_ = std::move(queue);
  recorder_ = std::move(recorder);
  status_reader_ = std::move(status_reader);
}

void Worker::Start() {
  if (!factory_) factory_ = DefaultFactory();
  if (!queue_) OpenConnections();
  policy_ = std::make_unique<DeliveryPolicy>(config_, clock_, random_);
  policy_->metrics = &worker_metrics_;
  metrics_.AddScrapeHook([this] { UpdateScrapedGauges(); });
  for (int i = 0; i < config_.worker.concurrency; ++i) {
    deliveries_.push_back(std::make_unique<EventDelivery>(config_.intercom, config_.worker.lease, *policy_, factory_()));
  }

  log::Info("worker_started", {{"worker_id", id_}, {"queue", config_.queue.path},
                               {"intercom", config_.intercom.api_key.empty()
                                                ? "dry-run file " + config_.worker.dry_run_file
                                                : config_.intercom.base_url},
                               {"concurrency", config_.worker.concurrency}});
  started_ = true;
  running_deliveries_ = deliveries_.size();
  for (size_t i = 0; i < deliveries_.size(); ++i) {
    delivery_threads_.emplace_back([this, i] { DeliveryLoop(i); });
  }
  claimer_ = std::thread([this] { ClaimLoop(); });
}

bool Worker::StartWhenQueueWritable(const RetryWait& wait) {
  // A bad ca_file or dry-run file stops the worker before any wait.
  if (!factory_) factory_ = DefaultFactory();

  if (!OpenWhenQueueWritable([this] { OpenConnections(); }, wait)) return false;
  Start();
  return true;
}

void Worker::Stop() {
  if (!started_) return;
  started_ = false;
  log::Info("worker_stopping", {{"worker_id", id_}});
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
  }
  claimer_.join();

  // In-flight requests get worker.shutdown_timeout to finish; after that
  // their connections are cut and they end as network errors (retried later).
  {
    std::unique_lock<std::mutex> lock(mutex_);
    bool finished = changed_.wait_for(lock, config_.worker.shutdown_timeout,
                                      [&] { return running_deliveries_ == 0; });
    if (!finished) {
      log::Warn("shutdown_timeout", {{"in_flight", static_cast<int64_t>(in_flight_)}});
      for (auto& delivery : deliveries_) delivery->transport().Abort();
    }
  }
  for (std::thread& thread : delivery_threads_) thread.join();
  delivery_threads_.clear();

  recorder_->Stop();
  // Destroying the deliveries closes their keep-alive connections, so a
  // stopped worker leaves no connection open to Intercom.
  deliveries_.clear();
  // Everything was handed back through the recorder; this catches a row
  // whose completion could not name it (there should be none).
  int64_t released = queue_->ReleaseOwned();
  if (released > 0) log::Warn("released_at_stop", {{"events", released}});
  log::Info("worker_stopped", {{"worker_id", id_}});
}

void Worker::ClaimLoop() {
  const size_t capacity = static_cast<size_t>(
      std::max(config_.worker.claim_batch, config_.worker.concurrency));
  int64_t data_version = 0;
  int64_t next_prune_ms = 0;
  while (!stopping_) {
    MaybePrune(next_prune_ms);

    // Claim only what the buffer can hold, so leases do not run out while
    // events wait in memory. While paused, claim one probe event per interval.
    size_t space = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      size_t held = buffer_.size() + in_flight_;
      space = held < capacity ? capacity - held : 0;
      if (space == 0) {
        changed_.wait_for(lock, config_.worker.idle_poll);
        continue;
      }
    }
    bool open = policy_->gate.IsOpen();
    int want = static_cast<int>(std::min<size_t>(space, config_.worker.claim_batch));
    bool probe = false;
    if (!open) {
      probe = policy_->gate.TakeProbe();
      want = probe ? 1 : 0;
    }

    std::vector<ClaimedEvent> claimed;
    if (want > 0) {
      try {
        claimed = queue_->Claim(want);
      } catch (const std::exception& error) {
        log::Error("claim_failed", {{"error", error.what()}});
        SleepFor(Milliseconds(1000));
        continue;
      }
    }
    if (probe && claimed.empty()) policy_->gate.ReturnProbe();
    if (!claimed.empty()) {
      std::lock_guard<std::mutex> lock(mutex_);
      for (ClaimedEvent& event : claimed) {
        event.probe = probe;
        buffer_.push_back(std::move(event));
      }
      changed_.notify_all();
      continue;
    }
    if (!open) {
      SleepFor(config_.worker.idle_poll);
      continue;
    }
    IdleWait(data_version);
  }
}

void Worker::IdleWait(int64_t& data_version) {
  // Nothing due: sleep until another connection commits (ingest, an operator,
  // our recorder), a retry or a lease comes due, or a second has passed.
  std::optional<int64_t> next_wake;
  try {
    next_wake = queue_->NextWakeMs();
    data_version = queue_->DataVersion();
  } catch (const std::exception& error) {
    log::Error("claim_failed", {{"error", error.what()}});
  }
  auto idle_since = std::chrono::steady_clock::now();
  while (!stopping_) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait_for(lock, config_.worker.idle_poll, [&] { return stopping_.load(); });
    }
    if (stopping_) return;
    try {
      int64_t version = queue_->DataVersion();
      if (version != data_version) {
        data_version = version;
        return;
      }
    } catch (const std::exception& error) {
      log::Error("claim_failed", {{"error", error.what()}});
      return;
    }
    if (next_wake && clock_.NowMs() >= *next_wake) return;
    if (std::chrono::steady_clock::now() - idle_since > std::chrono::seconds(1)) return;
  }
}

void Worker::MaybePrune(int64_t& next_prune_ms) {
  int64_t now = clock_.NowMs();
  if (now < next_prune_ms) return;
  next_prune_ms = now + config_.worker.prune_interval.count();
  try {
    int64_t pruned = queue_->Prune(now - config_.worker.retention.count());
    if (pruned > 0) log::Info("pruned", {{"events", pruned}});
  } catch (const std::exception& error) {
    log::Error("prune_failed", {{"error", error.what()}});
  }
}

void Worker::DeliveryLoop(size_t index) {
  EventDelivery& delivery = *deliveries_[index];
  EventDelivery::WaitUntil wait = [this](int64_t until_ms) { return WaitUntil(until_ms); };
  while (true) {
    ClaimedEvent event;
    bool release = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || !buffer_.empty(); });
      if (buffer_.empty()) break;
      event = std::move(buffer_.front());
      buffer_.pop_front();
      release = stopping_;
      ++in_flight_;
    }

    Completion completion;
    if (release) {
      completion = EventDelivery::Release(event, "worker stopping");
    } else {
      try {
        completion = delivery.Handle(event, wait);
      } catch (const std::exception& error) {
        // A bug or a malformed row must not kill the thread; the row goes back
        // to pending and its lease protects against a tight loop.
        log::Error("delivery_error", {{"event_id", event.id}, {"error", error.what()}});
        completion = EventDelivery::Release(event, "unexpected error");
        completion.next_attempt_at_ms = clock_.NowMs() + config_.worker.lease.count();
      }
    }
    CountCompletion(event, completion);
    recorder_->Submit(std::move(completion));

    std::lock_guard<std::mutex> lock(mutex_);
    --in_flight_;
    changed_.notify_all();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  --running_deliveries_;
  changed_.notify_all();
}

void Worker::CountCompletion(const ClaimedEvent& event, const Completion& completion) {
  std::string outcome = completion.state;
  if (!completion.attempts.empty()) {
    outcome = completion.attempts.back().outcome;
  } else if (completion.state == "pending") {
    outcome = "released";
  }
  worker_metrics_.deliveries.WithLabels({outcome}).Increment();
  if (completion.state == "delivered" && event.received_at_ms > 0) {
    int64_t latency_ms = std::max<int64_t>(0, clock_.NowMs() - event.received_at_ms);
    worker_metrics_.delivery_latency.Observe(static_cast<double>(latency_ms) / 1000.0);
  }
}

void Worker::UpdateScrapedGauges() {
  worker_metrics_.paused.Set(policy_->gate.IsOpen() ? 0.0 : 1.0);
  // A failed read leaves the previous values, so a locked or busy database
  // does not turn a scrape into an error.
  try {
    QueueStatus status = status_reader_->Read();
    for (const auto& [state, count] : status.events_by_state) {
      worker_metrics_.queue_events.WithLabels({state}).Set(static_cast<double>(count));
    }
    double age_s = 0;
    if (status.oldest_pending_received_ms) {
      age_s = static_cast<double>(std::max<int64_t>(
                  0, status.read_at_ms - *status.oldest_pending_received_ms)) / 1000.0;
    }
    worker_metrics_.oldest_pending_age.Set(age_s);
  } catch (const std::exception& error) {
    log::Warn("queue_status_failed", {{"error", error.what()}});
  }
}

PauseState Worker::pause_state() const {
  PauseState state;
  state.paused = !policy_->gate.IsOpen();
  if (state.paused) state.cause = policy_->gate.cause();
  return state;
}

QueueStatus Worker::ReadStatus() { return status_reader_->Read(); }

void Worker::SleepFor(Milliseconds duration) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, duration, [&] { return stopping_.load(); });
}

bool Worker::WaitUntil(int64_t until_ms) {
  while (!stopping_) {
    int64_t remaining = until_ms - clock_.NowMs();
    if (remaining <= 0) return true;
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, std::chrono::milliseconds(std::min(remaining, kMaxSleepStepMs)),
                      [&] { return stopping_.load(); });
  }
  return false;
}

}  // namespace connector
