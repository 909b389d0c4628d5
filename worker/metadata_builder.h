#pragma once

#include <Poco/JSON/Object.h>

#include <string>
#include <vector>

namespace connector {

// Event metadata ready for Intercom, and a human-readable note for each
// change made to meet Intercom's rules, for the attempt row's `notes`.
struct Metadata {
  Poco::JSON::Object::Ptr values;      // keys in the order they are sent; may be empty
  std::vector<std::string> notes;
};

// Builds the `metadata` object of POST /events from the configured event
// properties, enforcing Intercom's rules (as documented for API 2.x):
//   - keys in the configured order; at most 10, the rest dropped
//   - `$`-prefixed PostHog keys dropped; '.' and '$' inside a key replaced by
//     the separator
//   - strings, numbers and booleans kept; strings cut to 255 characters
//   - under a key that ends in "_date" as sent (after renaming and
//     flattening), an RFC 3339 date-time or YYYY-MM-DD string converted to
//     integer Unix seconds, and any other string kept with a note. Numbers
//     there are sent unchanged, taken to be seconds already.
//   - rich links {"url", "value"} and monetary amounts {"amount" (integer),
//     "currency"} kept as objects
//   - other objects flattened into "parent<sep>child" keys; arrays and nulls
//     dropped
// Stateless after construction and thread-safe.
class MetadataBuilder {
 public:
  static constexpr size_t kMaxKeys = 10;
  static constexpr size_t kMaxStringCharacters = 255;

  MetadataBuilder(std::vector<std::string> properties, std::string separator);

  // `properties` is the event's `properties` object, or null.
  Metadata Build(const Poco::JSON::Object::Ptr& properties) const;

  bool empty() const { return properties_.empty(); }

 private:
  void Add(const std::string& key, const Poco::Dynamic::Var& value, Metadata& out,
           std::vector<std::pair<std::string, Poco::Dynamic::Var>>& entries) const;

  std::vector<std::string> properties_;
  std::string separator_;
};

}  // namespace connector
