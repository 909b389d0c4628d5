#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/capture_error.h"
#include "common/event.h"

namespace connector {

// Request details the normaliser needs besides the JSON text.
struct CaptureContext {
  int64_t received_at_ms = 0;  // Unix milliseconds; the receive time and the skew reference
  // Used for events that carry no token of their own and sit in a body with
  // none at the top level (ingest passes the `token` or `api_key` query
  // parameter). Empty: none.
  std::string fallback_token;
  int max_events = 0;          // more events than this: CaptureError kTooLarge; 0: no limit
};

// Turns decoded JSON text into QueuedEvents, applying the same rules as
// PostHog's capture endpoint. Ingest and `intercom-queue import` both use it,
// so a row means the same whichever way it arrived. Stateless apart from the
// uuid generator, and thread-safe when that is.
//
// Per event:
//   event        required non-empty string.
//   distinct_id  `distinct_id`, else `properties.distinct_id`; a string or a
//                number (stored as its decimal text); required. PostHog keeps
//                only the first 200 characters, and so does this.
//   uuid         the client's uuid in canonical lower-case form (so a resend
//                de-duplicates); a new UUIDv7 when missing or null.
//   token        `api_key`, `token`, `$token`, `properties.token`, then the
//                body's top-level `api_key`/`token`/`$token`, then
//                CaptureContext::fallback_token; none: std::nullopt.
//   created_at   Unix seconds of the event's time, computed as PostHog does:
//                - timestamp and sent_at both present (sent_at from the event
//                  or the body's top level) and properties.$ignore_sent_at not
//                  true: received_at + (timestamp - sent_at), which cancels
//                  the client's clock skew;
//                - timestamp only: timestamp;
//                - neither, but `offset` (milliseconds before sending):
//                  received_at - offset;
//                - otherwise received_at.
//                A timestamp or sent_at is ISO 8601 text (see ParseIso8601Ms),
//                or a number (or numeric string) of seconds, or of
//                milliseconds when its absolute value is 1e11 or more (1e11
//                seconds would be the year 5138). Unreadable values, and
//                results outside the years 1970 to 9999, are kInvalid.
//   payload      the event object as JSON: keys in the order received, and
//                numbers read as ParseJsonExactNumbers reads them (integers
//                within 64 bits exactly, others as the nearest double). A
//                number beyond a double's range, such as 1e400, is kInvalid.
// Throws CaptureError (kInvalid naming the event index and field, or
// kTooLarge over max_events). On any error no event is returned.
class EventNormalizer {
 public:
  // Returns a new uuid for an event without one, given the receive time.
  using UuidGenerator = std::function<std::string(int64_t now_ms)>;

  EventNormalizer();  // generates random UUIDv7s
  explicit EventNormalizer(UuidGenerator generate_uuid);

  // Reads a capture body: {"batch": [...]} (with optional top-level api_key
  // and sent_at, as posthog-node sends), a plain array of events, or one event.
  std::vector<QueuedEvent> ParseCapture(std::string_view json_text,
                                        const CaptureContext& context) const;

  // Reads the body of PostHog's HTTP Webhook destination:
  // {"event": {...}, "person": {...}}. The person object (with its
  // properties) is stored in QueuedEvent::person.
  QueuedEvent ParseWebhook(std::string_view json_text, const CaptureContext& context) const;

 private:
  UuidGenerator generate_uuid_;
};

// Parses ISO 8601 / RFC 3339 date-times: "2026-01-02", "2026-01-02T03:04",
// "2026-01-02T03:04:05", with optional fraction (any number of digits, kept
// to the millisecond), and optional "Z", "+hh:mm", "+hhmm" or "+hh". A space
// may replace the "T". No offset means UTC. Returns Unix milliseconds, or
// nullopt when `text` is not in one of those forms.
std::optional<int64_t> ParseIso8601Ms(std::string_view text);

// Throws CaptureError kUnauthorized when `api_keys` is not empty and an event
// has no project token or one not in the list. The message never contains
// the token. `missing_token_advice` ends the message for an event without a
// token and names every place this caller takes one from, such as
// "add ?token=<project token> to the URL".
void CheckProjectTokens(const std::vector<QueuedEvent>& events,
                        const std::vector<std::string>& api_keys,
                        const std::string& missing_token_advice);

// Returns a new random UUIDv7 (RFC 9562) for `now_ms`, in canonical lower-case form.
std::string NewUuidV7(int64_t now_ms);

}  // namespace connector
