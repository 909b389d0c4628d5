#include "worker/metadata_builder.h"

#include <Poco/JSON/Array.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

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

// Reads the `count` ASCII digits at `pos` of `text` as a number, or returns
// nullopt when any of them is missing or not a digit.
std::optional<int> ReadDigits(std::string_view text, size_t pos, size_t count) {
  if (pos + count > text.size()) return std::nullopt;
  int number = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    number = number * 10 + (text[i] - '0');
  }
  return number;
}

// Parses `text` into Unix time in seconds, or returns nullopt unless `text`
// has one of these forms:
//   - a date `YYYY-MM-DD`, taken as midnight UTC;
//   - an RFC 3339 date-time `YYYY-MM-DDThh:mm:ss[.fraction]<offset>`, with
//     `T`, `t` or a space between date and time, and `Z`, `z` or `+hh:mm` /
//     `-hh:mm` as the offset.
// Years are 0000 to 9999, the day must exist in its month (February 29 only
// in leap years), hours 0-23, minutes 0-59 and offsets at most 23:59. A
// date-time without an offset is rejected, because its time zone is unknown.
// Fractional seconds are dropped, which rounds toward the past also before
// 1970. Second 60 (a leap second) is accepted only at 23:59 UTC, where leap
// seconds are inserted, and counts as second 59, because Unix time has no leap
// seconds and this keeps the result on the day written.
std::optional<int64_t> ParseUnixSeconds(std::string_view text) {
  std::optional<int> year = ReadDigits(text, 0, 4);
  std::optional<int> month = ReadDigits(text, 5, 2);
  std::optional<int> day = ReadDigits(text, 8, 2);
  if (!year || !month || !day || text[4] != '-' || text[7] != '-') return std::nullopt;
  std::chrono::year_month_day date{std::chrono::year(*year),
                                   std::chrono::month(static_cast<unsigned>(*month)),
                                   std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok()) return std::nullopt;
  int64_t days = std::chrono::sys_days(date).time_since_epoch().count();
  constexpr int64_t kSecondsPerDay = 86400;
  if (text.size() == 10) return days * kSecondsPerDay;

  // The time: "Thh:mm:ss" at positions 10 to 18.
  if (text.size() < 19 || (text[10] != 'T' && text[10] != 't' && text[10] != ' ')) {
    return std::nullopt;
  }
  std::optional<int> hour = ReadDigits(text, 11, 2);
  std::optional<int> minute = ReadDigits(text, 14, 2);
  std::optional<int> second = ReadDigits(text, 17, 2);
  if (!hour || !minute || !second || text[13] != ':' || text[16] != ':') return std::nullopt;
  if (*hour > 23 || *minute > 59 || *second > 60) return std::nullopt;

  size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    size_t fraction_start = ++pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == fraction_start) return std::nullopt;
  }

  // The offset from UTC, which must end the text.
  int64_t offset_seconds = 0;
  if (pos + 1 == text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    offset_seconds = 0;
  } else if (pos + 6 == text.size() && (text[pos] == '+' || text[pos] == '-')) {
    std::optional<int> offset_hours = ReadDigits(text, pos + 1, 2);
    std::optional<int> offset_minutes = ReadDigits(text, pos + 4, 2);
    if (!offset_hours || !offset_minutes || text[pos + 3] != ':') return std::nullopt;
    if (*offset_hours > 23 || *offset_minutes > 59) return std::nullopt;
    offset_seconds = *offset_hours * 3600 + *offset_minutes * 60;
    if (text[pos] == '-') offset_seconds = -offset_seconds;
  } else {
    return std::nullopt;
  }

  bool leap_second = *second == 60;
  int64_t local_seconds =
      days * kSecondsPerDay + *hour * 3600 + *minute * 60 + (leap_second ? 59 : *second);
  int64_t utc_seconds = local_seconds - offset_seconds;
  if (leap_second) {
    int64_t second_of_day = ((utc_seconds % kSecondsPerDay) + kSecondsPerDay) % kSecondsPerDay;
    if (second_of_day != kSecondsPerDay - 1) return std::nullopt;
  }
  return utc_seconds;
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
    // Intercom stores a value as a date only under a key ending in "_date"
    // and only as Unix seconds, so such a key's date string is converted.
    // Numbers under such a key are sent as they are, taken to be seconds.
    if (key.ends_with("_date")) {
      if (std::optional<int64_t> seconds = ParseUnixSeconds(text)) {
        out.notes.push_back("converted " + key + " to Unix seconds");
        entries.emplace_back(key, Poco::Int64{*seconds});
        return;
      }
      out.notes.push_back("kept " + key +
                          " as a string: not an RFC 3339 date-time or YYYY-MM-DD date");
    }
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
