#pragma once

#include <Poco/JSON/Object.h>

#include <string>
#include <vector>

#include "common/config.h"

namespace connector {

// A claimed row's content, as the filters see it.
struct EventContent {
  std::string name;
  std::string distinct_id;
  std::string payload;                 // the event object as JSON
  std::optional<std::string> person;   // webhook person object as JSON
};

// The filters' decision about one event. When `send` is false, `reason`
// explains it, for the row's `reason` column. When `send` is true, `email` is the
// contact's trimmed address and `properties` the event's properties (or null).
struct FilterDecision {
  bool send = false;
  std::string reason;
  std::string email;
  std::string email_source;
  Poco::JSON::Object::Ptr properties;
};

// Decides whether an event goes to Intercom, with the PostHog Intercom app's
// rules: the event name must be one of the triggering events (exact match),
// the event must carry a valid email (see EmailResolver), and the email's
// domain must not be an ignored one (case-insensitive). Immutable after
// construction and thread-safe.
class Filters {
 public:
  explicit Filters(const IntercomConfig& config);

  FilterDecision Decide(const EventContent& event) const;

 private:
  std::vector<std::string> triggering_events_;
  std::vector<std::string> ignored_domains_;   // lower-case
};

}  // namespace connector
