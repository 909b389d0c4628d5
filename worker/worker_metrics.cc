#include "worker/worker_metrics.h"

#include <limits>

namespace connector {

WorkerMetrics::WorkerMetrics(MetricsRegistry& registry)
    : deliveries(registry.AddCounter(
          "intercom_connector_deliveries_total",
          "Events the worker finished handling, by how their turn ended.", {"outcome"})),
      responses(registry.AddCounter(
          "intercom_connector_intercom_responses_total",
          "Responses from Intercom by HTTP status class, or network_error when none arrived.",
          {"status_class"})),
      retries(registry.AddCounter("intercom_connector_retries_total",
                                  "Retries scheduled, by cause.", {"reason"})),
      pauses(registry
                 .AddCounter("intercom_connector_pauses_total",
                             "Times delivery was paused because Intercom rejected the token.")
                 .WithLabels({})),
      in_flight(registry
                    .AddGauge("intercom_connector_intercom_requests_in_flight",
                              "Requests to Intercom in progress.")
                    .WithLabels({})),
      rate_limit_remaining(
          registry
              .AddGauge("intercom_connector_rate_limit_remaining",
                        "The last X-RateLimit-Remaining header from Intercom; NaN until one "
                        "arrives.")
              .WithLabels({})),
      request_duration(registry
                           .AddHistogram("intercom_connector_intercom_request_duration_seconds",
                                         "Duration of each request to Intercom.",
                                         LatencyBuckets())
                           .WithLabels({})),
      delivery_latency(registry
                           .AddHistogram("intercom_connector_delivery_latency_seconds",
                                         "Time from ingest receiving an event to Intercom "
                                         "accepting it.",
                                         QueueTimeBuckets())
                           .WithLabels({})),
      queue_events(registry.AddGauge("intercom_connector_queue_events",
                                     "Rows in the queue by state.", {"state"})),
      oldest_pending_age(registry
                             .AddGauge("intercom_connector_queue_oldest_pending_age_seconds",
                                       "Seconds since the oldest pending event was received; "
                                       "0 when none is pending.")
                             .WithLabels({})),
      paused(registry
                 .AddGauge("intercom_connector_paused",
                           "1 while delivery is paused because Intercom rejected the token.")
                 .WithLabels({})) {
  rate_limit_remaining.Set(std::numeric_limits<double>::quiet_NaN());
}

void WorkerMetrics::ObserveResponse(const HttpResponse& response) {
  const char* status_class = "network_error";
  if (response.status >= 200 && response.status < 300) {
    status_class = "2xx";
  } else if (response.status >= 300 && response.status < 400) {
    status_class = "3xx";
  } else if (response.status >= 400 && response.status < 500) {
    status_class = "4xx";
  } else if (response.status >= 500) {
    status_class = "5xx";
  }
  responses.WithLabels({status_class}).Increment();
  request_duration.Observe(static_cast<double>(response.duration_ms) / 1000.0);
}

}  // namespace connector
