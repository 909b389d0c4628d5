#include "worker/filters.h"

#include <Poco/Exception.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "common/json_parser.h"
#include "worker/email_resolver.h"

namespace connector {
namespace {

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Ingest stores no payload deeper than this, so the limit only guards rows
// written by other means.
constexpr size_t kMaxPayloadDepth = 64;

// Parses `json` as an object; returns null when it is not one. Numbers keep
// the exact values ingest stored, which Poco's own parser would change for
// integers beyond 2^53 in magnitude.
Poco::JSON::Object::Ptr ParseObject(const std::string& json) {
  try {
    Poco::Dynamic::Var parsed = ParseJsonExactNumbers(json, kMaxPayloadDepth);
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) return nullptr;
    return parsed.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    return nullptr;
  } catch (const std::runtime_error&) {  // JsonNumberOutOfRange
    return nullptr;
  }
}

}  // namespace

Filters::Filters(const IntercomConfig& config) : triggering_events_(config.triggering_events) {
  for (const std::string& domain : config.ignored_email_domains) {
    ignored_domains_.push_back(Lower(domain));
  }
}

FilterDecision Filters::Decide(const EventContent& event) const {
  FilterDecision decision;
  if (std::find(triggering_events_.begin(), triggering_events_.end(), event.name) ==
      triggering_events_.end()) {
    decision.reason = "event " + event.name + " is not in intercom.triggering_events";
    return decision;
  }

  Poco::JSON::Object::Ptr payload = ParseObject(event.payload);
  if (payload.isNull()) {
    decision.reason = "payload is not a JSON object";
    return decision;
  }
  Poco::JSON::Object::Ptr person = event.person ? ParseObject(*event.person) : nullptr;

  std::optional<ResolvedEmail> email = EmailResolver::Resolve(event.distinct_id, payload, person);
  if (!email) {
    decision.reason = "no valid email in distinct_id, $set, $set_once, properties or person";
    return decision;
  }
  std::string domain = EmailResolver::Domain(email->email);
  if (std::find(ignored_domains_.begin(), ignored_domains_.end(), domain) !=
      ignored_domains_.end()) {
    decision.reason = "email domain " + domain + " is in intercom.ignored_email_domains";
    decision.email = email->email;
    return decision;
  }

  decision.send = true;
  decision.email = email->email;
  decision.email_source = email->source;
  decision.properties = payload->getObject("properties");
  return decision;
}

}  // namespace connector
