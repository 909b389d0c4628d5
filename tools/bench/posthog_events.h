#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace connector::bench {

// The project token every bench request carries.
inline constexpr const char* kBenchToken = "phc_bench";

// Builds PostHog events and request bodies shaped like those posthog-node
// 5.74.0 sends for client.identify({distinctId, properties: {email, name,
// plan}}): a gzip'd POST /batch/ body {"api_key", "batch": [...], "sent_at"}
// whose events carry $set, an empty $set_once and the library properties.
// Every event gets a new UUIDv7, so no two rows collide on `uuid`.
class PosthogEventFactory {
 public:
  // `run_tag` goes into every distinct_id and email, so two runs never share
  // a contact.
  explicit PosthogEventFactory(std::string run_tag) : run_tag_(std::move(run_tag)) {}

  // Returns one $identify event object for user number `n`. `extra_properties`
  // is inserted into `properties` as is, such as "\"bench_sent_us\":123";
  // `with_token` adds the project token as the event's own `api_key`, as a
  // single-event request needs.
  std::string IdentifyEvent(uint64_t n, int64_t now_ms, std::string_view extra_properties = "",
                            bool with_token = false) const;

  // Returns a /batch/ body containing `events` (JSON objects), before compression.
  std::string BatchBody(const std::vector<std::string>& events, int64_t now_ms) const;

 private:
  std::string run_tag_;
};

// Formats Unix milliseconds as "2026-12-04T21:05:18.842Z", as JavaScript's
// Date.toISOString() does.
std::string FormatIso8601(int64_t unix_ms);

// Compresses `data` as one gzip member at zlib's default level. Throws
// std::runtime_error when zlib fails.
std::string Gzip(std::string_view data);

// Returns Unix time in milliseconds or microseconds from the system clock.
int64_t NowUnixMs();
int64_t NowUnixUs();

}  // namespace connector::bench
