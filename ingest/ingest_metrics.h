#pragma once

#include "common/metrics.h"

namespace connector {

// The metrics intercom-ingest updates while it serves requests. The
// references point into a MetricsRegistry that outlives this object; every
// update is lock-free, except the first rejection with a new reason.
struct IngestMetrics {
  explicit IngestMetrics(MetricsRegistry& registry);

  // Events committed as new rows, and events already in the queue (same uuid).
  Counter& events_accepted;
  Counter& events_duplicate;
  // Requests that got a 2xx response after their events were committed.
  Counter& requests_accepted;
  // Requests that got a 4xx or 5xx response, by the error code in its body
  // (invalid_payload, invalid_api_key, payload_too_large, queue_unavailable, ...).
  Family<Counter>& requests_rejected;
  // Seconds from a handler's Commit() call until its group was committed,
  // including the wait for the group; what a client waits beyond decoding.
  Histogram& commit_duration;
};

}  // namespace connector
