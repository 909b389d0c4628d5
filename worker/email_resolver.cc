#include "worker/email_resolver.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace connector {
namespace {

std::string Trim(const std::string& text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return text.substr(begin, end - begin);
}

// Returns object[key] when it is an object, else null.
Poco::JSON::Object::Ptr ChildObject(const Poco::JSON::Object::Ptr& object, const std::string& key) {
  if (object.isNull() || !object->has(key)) return nullptr;
  return object->getObject(key);
}

// Returns object[key] when it is a string, else nullopt.
std::optional<std::string> StringField(const Poco::JSON::Object::Ptr& object,
                                       const std::string& key) {
  if (object.isNull() || !object->has(key)) return std::nullopt;
  Poco::Dynamic::Var value = object->get(key);
  if (!value.isString()) return std::nullopt;
  return value.extract<std::string>();
}

}  // namespace

bool EmailResolver::IsValidEmail(const std::string& text) {
  if (text.empty() || text.size() > 254) return false;
  if (std::count(text.begin(), text.end(), '@') != 1) return false;
  for (char c : text) {
    unsigned char byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) return false;
  }
  size_t at = text.find('@');
  std::string local = text.substr(0, at);
  std::string domain = text.substr(at + 1);
  if (local.empty() || local.size() > 64) return false;

  // The domain needs at least two labels, none empty, none starting or ending
  // with '-', so "a@b", "a@.com" and "a@b..c" are rejected.
  std::vector<std::string> labels;
  size_t start = 0;
  while (true) {
    size_t dot = domain.find('.', start);
    labels.push_back(domain.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (labels.size() < 2) return false;
  for (const std::string& label : labels) {
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
  }
  return true;
}

std::string EmailResolver::Domain(const std::string& email) {
  std::string domain = email.substr(email.find('@') + 1);
  std::transform(domain.begin(), domain.end(), domain.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return domain;
}

std::optional<ResolvedEmail> EmailResolver::Resolve(const std::string& distinct_id,
                                                    const Poco::JSON::Object::Ptr& event,
                                                    const Poco::JSON::Object::Ptr& person) {
  Poco::JSON::Object::Ptr properties = ChildObject(event, "properties");
  std::vector<std::pair<std::optional<std::string>, std::string>> candidates = {
      {distinct_id, "distinct_id"},
      {StringField(ChildObject(event, "$set"), "email"), "$set.email"},
      {StringField(ChildObject(properties, "$set"), "email"), "properties.$set.email"},
      {StringField(ChildObject(event, "$set_once"), "email"), "$set_once.email"},
      {StringField(ChildObject(properties, "$set_once"), "email"), "properties.$set_once.email"},
      {StringField(properties, "email"), "properties.email"},
      {StringField(ChildObject(person, "properties"), "email"), "person.properties.email"},
      {StringField(person, "email"), "person.email"},
  };
  for (const auto& [candidate, source] : candidates) {
    if (!candidate) continue;
    std::string email = Trim(*candidate);
    if (IsValidEmail(email)) return ResolvedEmail{email, source};
  }
  return std::nullopt;
}

}  // namespace connector
