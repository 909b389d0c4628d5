#pragma once

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "worker/http_transport.h"

namespace connector {

// The contact field of a POST /events body: "email" (the default) or "id"
// (Intercom's own contact id, found by a contact search). PostHog's
// distinct_id never goes into `id`.
struct ContactIdentifier {
  std::string field;                   // "email" or "id"
  std::string value;
};

// One contact from POST /contacts/search.
struct FoundContact {
  std::string id;
  std::string role;                    // "user" or "lead"
  std::string email;
};

// The result of a contact search: the contacts, or the failed response.
struct ContactSearch {
  HttpResponse response;
  std::vector<FoundContact> contacts;
  bool ok = false;                     // 200 with a parseable body
};

// Builds Intercom requests and parses the responses, with no policy of its own.
// Uses one transport, so it belongs to the delivery thread that owns it.
class IntercomClient {
 public:
  IntercomClient(const IntercomConfig& config, HttpTransport& transport);

  // Returns the POST /events body: event_name, created_at (Unix seconds, as
  // stored at ingest), the identifier and, when not empty, metadata.
  static std::string EventBody(const std::string& event_name, int64_t created_at,
                               const ContactIdentifier& contact,
                               const Poco::JSON::Object::Ptr& metadata);

  HttpResponse SubmitEvent(const std::string& body);

  // Searches contacts whose email equals `email` exactly.
  ContactSearch SearchByEmail(const std::string& email);

 private:
  HttpRequest Request(const std::string& path, std::string body) const;

  std::string api_key_;
  std::string api_version_;
  HttpTransport& transport_;
};

}  // namespace connector
