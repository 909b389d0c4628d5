#include "ingest/ingest_metrics.h"

namespace connector {

IngestMetrics::IngestMetrics(MetricsRegistry& registry)
    : events_accepted(registry
                          .AddCounter("intercom_connector_ingest_events_accepted_total",
                                      "Events committed to the queue as new rows.")
                          .WithLabels({})),
      events_duplicate(registry
                           .AddCounter("intercom_connector_ingest_events_duplicate_total",
                                       "Events accepted whose uuid was already in the queue, "
                                       "so no row was added.")
                           .WithLabels({})),
      requests_accepted(registry
                            .AddCounter("intercom_connector_ingest_requests_accepted_total",
                                        "Capture requests answered after their events were "
                                        "committed.")
                            .WithLabels({})),
      requests_rejected(registry.AddCounter(
          "intercom_connector_ingest_requests_rejected_total",
          "Requests answered with an error, by the code in the error body.", {"reason"})),
      commit_duration(registry
                          .AddHistogram("intercom_connector_ingest_commit_duration_seconds",
                                        "Time from handing a request's events to the group "
                                        "commit writer until they were committed.",
                                        LatencyBuckets())
                          .WithLabels({})) {}

}  // namespace connector
