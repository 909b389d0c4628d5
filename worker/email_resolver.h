#pragma once

#include <Poco/JSON/Object.h>

#include <optional>
#include <string>

namespace connector {

// An email address found on an event, and where it was found (for the log
// and the skip reason), such as "distinct_id" or "properties.$set.email".
struct ResolvedEmail {
  std::string email;
  std::string source;
};

// Finds the contact's email on a PostHog event. Candidates are tried in this
// order, and the first valid one wins: distinct_id; `$set.email` at the top
// level of the event, then inside `properties` (posthog-node puts it there);
// `$set_once.email` in the same two places; `properties.email`; the webhook
// person's `properties.email`, then its `email`. Each candidate is trimmed
// and validated on its own, so an invalid one never hides a valid one further
// down. Stateless and thread-safe.
class EmailResolver {
 public:
  // `event` is the event object; `person` is the webhook person or null.
  static std::optional<ResolvedEmail> Resolve(const std::string& distinct_id,
                                              const Poco::JSON::Object::Ptr& event,
                                              const Poco::JSON::Object::Ptr& person);

  // Returns true for an address Intercom can take: one '@', a non-empty local
  // part, a domain of at least two non-empty dot-separated labels, no spaces
  // or control characters, at most 254 characters.
  static bool IsValidEmail(const std::string& text);

  // Returns the part after the '@', lower-cased.
  static std::string Domain(const std::string& email);
};

}  // namespace connector
