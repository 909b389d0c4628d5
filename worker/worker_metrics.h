#pragma once

#include "common/metrics.h"
#include "worker/http_transport.h"

namespace connector {

// The metrics the worker's threads update. The references point into a
// MetricsRegistry that outlives this object. Updates are lock-free, except
// the first use of a new label value.
struct WorkerMetrics {
  explicit WorkerMetrics(MetricsRegistry& registry);

  // Records one response (or network error) from Intercom: its status class
  // and its duration.
  void ObserveResponse(const HttpResponse& response);

  // Events by the end of their turn in the worker: the outcome of their last
  // request (delivered, failed, retry, rate_limited, paused, contact_missing),
  // "skipped" by a filter, or "released" back to the queue unsent.
  Family<Counter>& deliveries;
  // Responses from Intercom by status class: 2xx, 3xx, 4xx, 5xx or
  // network_error (no response: refused, reset, timed out).
  Family<Counter>& responses;
  // Retries scheduled, by cause: transient, contact_missing or rate_limited.
  Family<Counter>& retries;
  // Times delivery was paused because Intercom rejected the token.
  Counter& pauses;
  Gauge& in_flight;                    // requests to Intercom in progress
  // The last X-RateLimit-Remaining Intercom sent; NaN until one arrives.
  Gauge& rate_limit_remaining;
  Histogram& request_duration;         // seconds per request to Intercom
  // Seconds from ingest's receipt of an event to its delivery.
  Histogram& delivery_latency;

  // Set on scrape from the database and the pause gate.
  Family<Gauge>& queue_events;         // rows by state
  Gauge& oldest_pending_age;           // seconds since the oldest pending row arrived
  Gauge& paused;                       // 1 while delivery is paused, else 0
};

}  // namespace connector
