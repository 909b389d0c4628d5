#include "worker/metadata_builder.h"

#include <Poco/JSON/Array.h>

#include <algorithm>

namespace connector {
namespace {

// Returns the byte length of the first `max_characters` UTF-8 characters of
// `text`, so a cut never splits a multi-byte character.
size_t Utf8Prefix(const std::string& text, size_t max_characters) {
  size_t characters = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    bool starts_character = (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
    if (!starts_character) continue;
    if (characters == max_characters) return i;
    ++characters;
  }
  return text.size();
}

// Replaces each '.' and '$' in `key`, which Intercom rejects, by `separator`.
std::string SanitizeKey(const std::string& key, const std::string& separator) {
  std::string sanitized;
  for (char c : key) {
    if (c == '.' || c == '$') {
      sanitized += separator;
    } else {
      sanitized += c;
    }
  }
  return sanitized;
}

bool IsRichLink(const Poco::JSON::Object::Ptr& object) {
  return object->size() == 2 && object->has("url") && object->has("value") &&
         object->get("url").isString() && object->get("value").isString();
}

bool IsMonetaryAmount(const Poco::JSON::Object::Ptr& object) {
  return object->size() == 2 && object->has("amount") && object->has("currency") &&
         object->get("amount").isInteger() && object->get("currency").isString();
}

}  // namespace

MetadataBuilder::MetadataBuilder(std::vector<std::string> properties, std::string separator)
    : properties_(std::move(properties)), separator_(std::move(separator)) {}

Metadata MetadataBuilder::Build(const Poco::JSON::Object::Ptr& properties) const {
  Metadata out;
  out.values = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  std::vector<std::pair<std::string, Poco::Dynamic::Var>> entries;

  // Collect every key to send, in the configured order, with flattening.
  for (const std::string& name : properties_) {
    if (properties.isNull() || !properties->has(name)) continue;
    if (!name.empty() && name.front() == '$') {
      out.notes.push_back("dropped PostHog property " + name);
      continue;
    }
    std::string key = SanitizeKey(name, separator_);
    if (key != name) out.notes.push_back("renamed " + name + " to " + key);
    Add(key, properties->get(name), out, entries);
  }

  // Intercom keeps the first 10 keys and drops the rest silently. Drop them
  // here instead, so the attempt's notes name the dropped keys.
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i >= kMaxKeys) {
      out.notes.push_back("dropped " + entries[i].first + ": more than 10 keys");
      continue;
    }
    out.values->set(entries[i].first, entries[i].second);
  }
  return out;
}

void MetadataBuilder::Add(const std::string& key, const Poco::Dynamic::Var& value, Metadata& out,
                          std::vector<std::pair<std::string, Poco::Dynamic::Var>>& entries) const {
  if (value.isEmpty()) {
    out.notes.push_back("dropped " + key + ": null");
    return;
  }
  if (value.type() == typeid(Poco::JSON::Array::Ptr)) {
    out.notes.push_back("dropped " + key + ": arrays are not accepted");
    return;
  }
  if (value.type() == typeid(Poco::JSON::Object::Ptr)) {
    Poco::JSON::Object::Ptr object = value.extract<Poco::JSON::Object::Ptr>();
    if (IsRichLink(object) || IsMonetaryAmount(object)) {
      entries.emplace_back(key, value);
      return;
    }
    if (object->size() == 0) {
      out.notes.push_back("dropped " + key + ": empty object");
      return;
    }
    out.notes.push_back("flattened " + key);
    std::vector<std::string> names;
    object->getNames(names);
    std::sort(names.begin(), names.end());  // a stable order whatever the parser kept
    for (const std::string& child : names) {
      if (!child.empty() && child.front() == '$') {
        out.notes.push_back("dropped PostHog property " + key + separator_ + child);
        continue;
      }
      std::string child_key = key + separator_ + SanitizeKey(child, separator_);
      Add(child_key, object->get(child), out, entries);
    }
    return;
  }
  if (value.isString()) {
    std::string text = value.extract<std::string>();
    size_t cut = Utf8Prefix(text, kMaxStringCharacters);
    if (cut < text.size()) {
      out.notes.push_back("cut " + key + " to 255 characters");
      text.resize(cut);
    }
    entries.emplace_back(key, text);
    return;
  }
  entries.emplace_back(key, value);
}

}  // namespace connector
