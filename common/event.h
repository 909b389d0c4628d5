#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace connector {

// A PostHog event after decoding and normalisation, ready to become one
// `events` row. Built by ingest and by `intercom-queue import`; both go
// through the same normalisation so a row means the same thing either way.
struct QueuedEvent {
  std::string uuid;                          // client's uuid, or one generated at ingest
  std::string event;                         // event name
  std::string distinct_id;
  std::optional<std::string> project_token;
  std::string payload;                       // the event object as JSON
  std::optional<std::string> person;         // webhook person object as JSON
  int64_t received_at_ms = 0;                // Unix milliseconds
  int64_t created_at = 0;                    // Unix seconds, fixed for the row's life
};

}  // namespace connector
