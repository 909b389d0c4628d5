#include "worker/intercom_client.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <sstream>

namespace connector {

IntercomClient::IntercomClient(const IntercomConfig& config, HttpTransport& transport)
    : api_key_(config.api_key), api_version_(config.api_version), transport_(transport) {}

std::string IntercomClient::EventBody(const std::string& event_name, int64_t created_at,
                                      const ContactIdentifier& contact,
                                      const Poco::JSON::Object::Ptr& metadata) {
  Poco::JSON::Object body(Poco::JSON_PRESERVE_KEY_ORDER);
  body.set("event_name", event_name);
  body.set("created_at", created_at);
  body.set(contact.field, contact.value);
  if (!metadata.isNull() && metadata->size() > 0) body.set("metadata", metadata);
  std::ostringstream text;
  body.stringify(text);
  return text.str();
}

HttpRequest IntercomClient::Request(const std::string& path, std::string body) const {
  HttpRequest request;
  request.method = "POST";
  request.path = path;
  if (!api_key_.empty()) request.headers.emplace_back("Authorization", "Bearer " + api_key_);
  request.headers.emplace_back("Accept", "application/json");
  request.headers.emplace_back("Content-Type", "application/json");
  request.headers.emplace_back("Intercom-Version", api_version_);
  request.body = std::move(body);
  return request;
}

HttpResponse IntercomClient::SubmitEvent(const std::string& body) {
  return transport_.Send(Request("/events", body));
}

ContactSearch IntercomClient::SearchByEmail(const std::string& email) {
  Poco::JSON::Object query(Poco::JSON_PRESERVE_KEY_ORDER);
  Poco::JSON::Object::Ptr condition = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  condition->set("field", "email");
  condition->set("operator", "=");
  condition->set("value", email);
  query.set("query", condition);
  std::ostringstream body;
  query.stringify(body);

  ContactSearch search;
  search.response = transport_.Send(Request("/contacts/search", body.str()));
  if (search.response.status != 200) return search;
  try {
    Poco::JSON::Parser parser;
    Poco::JSON::Object::Ptr list = parser.parse(search.response.body).extract<Poco::JSON::Object::Ptr>();
    Poco::JSON::Array::Ptr data = list->getArray("data");
    if (data.isNull()) return search;
    for (size_t i = 0; i < data->size(); ++i) {
      Poco::JSON::Object::Ptr contact = data->getObject(static_cast<unsigned>(i));
      if (contact.isNull()) continue;
      FoundContact found;
      found.id = contact->optValue<std::string>("id", "");
      found.role = contact->optValue<std::string>("role", "");
      found.email = contact->optValue<std::string>("email", "");
      if (!found.id.empty()) search.contacts.push_back(found);
    }
    search.ok = true;
  } catch (const Poco::Exception&) {
    search.ok = false;
  }
  return search;
}

}  // namespace connector
