#pragma once

#include <functional>
#include <memory>

#include "common/clock.h"
#include "common/config.h"
#include "worker/contact_directory.h"
#include "worker/delivery_recorder.h"
#include "worker/event_queue.h"
#include "worker/filters.h"
#include "worker/intercom_client.h"
#include "worker/metadata_builder.h"
#include "worker/pause_gate.h"
#include "worker/rate_limiter.h"
#include "worker/response_classifier.h"
#include "worker/retry_policy.h"
#include "worker/worker_metrics.h"

namespace connector {

// The policy objects every delivery thread shares. Each is thread-safe.
struct DeliveryPolicy {
  DeliveryPolicy(const Config& config, const Clock& clock, Random& random);

  const Clock& clock;
  Filters filters;
  MetadataBuilder metadata;
  RetryPolicy retry;                   // worker.retry_schedule
  RetryPolicy contact_missing;         // worker.contact_missing_schedule
  RateLimiter limiter;
  PauseGate gate;
  ContactDirectory contacts;
  WorkerMetrics* metrics = nullptr;    // set by Worker before its threads start; may stay null
};

// Takes one claimed event through filters, pacing, the request(s) to
// Intercom and the classification of the response, and returns the Completion
// to record. Owned by one delivery thread, with that thread's transport.
class EventDelivery {
 public:
  // Sleeps until the given Unix ms; returns false when the worker is stopping.
  using WaitUntil = std::function<bool(int64_t until_ms)>;

  // `lease` is worker.lease: a request is started only while at least
  // min(connect_timeout + request_timeout, lease / 2) of the lease is left.
  EventDelivery(const IntercomConfig& config, Milliseconds lease, DeliveryPolicy& policy,
                std::unique_ptr<HttpTransport> transport);

  Completion Handle(const ClaimedEvent& event, const WaitUntil& wait_until);

  // Builds the Completion that hands a leased event back to the queue
  // unchanged (no attempt counted), for a pause or a stop.
  static Completion Release(const ClaimedEvent& event, const std::string& why);

  HttpTransport& transport() { return *transport_; }

 private:
  // Sends one request through the rate limiter; nullopt when stopping.
  std::optional<HttpResponse> SendPaced(const std::string& body, const WaitUntil& wait_until);
  std::optional<ContactSearch> SearchPaced(const std::string& email, const WaitUntil& wait_until);
  void ApplyRateLimitHeaders(const HttpResponse& response);

  Completion Finish(const ClaimedEvent& event, const std::string& email,
                    const Classification& result, std::vector<AttemptRecord> attempts);
  Completion Retry(const ClaimedEvent& event, const std::string& email, const Classification& result,
                   std::vector<AttemptRecord> attempts);
  Completion ContactMissing(const ClaimedEvent& event, const std::string& email,
                            std::vector<AttemptRecord> attempts);
  // Closes the delivery gate for a response with HTTP `status` that no
  // event can get past (a redirect or a rejected token); the event waits.
  Completion Paused(const ClaimedEvent& event, int status, const Classification& result,
                    std::vector<AttemptRecord> attempts);

  DeliveryPolicy& policy_;
  std::unique_ptr<HttpTransport> transport_;
  IntercomClient client_;
  const int64_t lease_margin_ms_;
};

}  // namespace connector
