#include "common/event_normalizer.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/JSONException.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <random>
#include <sstream>

#include "common/json_parser.h"

namespace connector {
namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

// PostHog keeps only this many characters of a distinct_id.
constexpr size_t kMaxDistinctIdChars = 200;
// Nesting deeper than this is rejected before it can exhaust a thread's stack.
constexpr size_t kMaxJsonDepth = 64;
// Parsing an object takes time in the square of its key count (see
// JsonLimits). At 1,000 keys a body parses about 3 times slower per byte than
// one of small objects (measured with Poco 1.11), instead of hundreds of
// times. An event with more properties gets a 413 that names the limit.
constexpr size_t kMaxObjectKeys = 1000;
// Allows 10,000 events (ingest's default max_events_per_request) of 100
// values each. At the per-value cost in JsonLimits this is an estimated
// 115 MB of parsed document.
constexpr size_t kMaxJsonValues = 1'000'000;
// Objects and arrays cost several times a number (see JsonLimits), so they
// have a limit of their own, an estimated 175 MB of empty objects. It
// allows 20 per event at 10,000 events.
constexpr size_t kMaxJsonContainers = 200'000;
// 9999-12-31T23:59:59.999Z: the last instant ISO 8601's four-digit years reach.
constexpr int64_t kMaxEventTimeMs = 253402300799999;

CaptureError Invalid(const std::string& message) {
  return CaptureError(CaptureError::Kind::kInvalid, message);
}

// Returns a short JSON rendering of `value` for an error message, cut so a
// huge value cannot flood the response or the log.
std::string Quote(const Var& value) {
  std::string text;
  try {
    text = value.isString() ? "\"" + value.extract<std::string>() + "\"" : value.convert<std::string>();
  } catch (const Poco::Exception&) {
    text = "(unprintable)";
  }
  if (text.size() > 64) text = text.substr(0, 61) + "...";
  return text;
}

Var ParseJson(std::string_view json_text) {
  // Poco's parser reports a top-level scalar with an unhelpful message.
  size_t first = json_text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    throw Invalid("body is empty after decoding; send an event object, an array of events or "
                  "{\"batch\": [events]}");
  }
  if (json_text[first] != '{' && json_text[first] != '[') {
    throw Invalid("body is not a JSON object or array; send an event object, an array of "
                  "events or {\"batch\": [events]}");
  }
  try {
    JsonLimits limits;
    limits.max_depth = kMaxJsonDepth;
    limits.max_object_keys = kMaxObjectKeys;
    limits.max_values = kMaxJsonValues;
    limits.max_containers = kMaxJsonContainers;
    return ParseJsonExactNumbers(std::string(json_text), limits);
  } catch (const JsonTooLarge& error) {
    throw CaptureError(CaptureError::Kind::kTooLarge,
                       std::string("body has ") + error.what() +
                           "; send fewer properties per event or smaller batches");
  } catch (const JsonNumberOutOfRange& error) {
    // Rejected rather than stored as null, as the largest double or as text,
    // because each of those would change the value without telling anyone.
    // JavaScript clients cannot send such a number (JSON.stringify writes
    // Infinity as null), and PostHog's Rust capture service rejects the body
    // too: it parses bodies with serde_json (default features), which fails
    // with "number out of range".
    throw Invalid(error.path() + " is " + error.number() +
                  ", beyond the range of a double (about 1.8e308), so it cannot be stored "
                  "unchanged; send it as a string, such as \"" + error.number() + "\"");
  } catch (const Poco::Exception& error) {
    throw Invalid("body is not valid JSON (" + error.message() +
                  "); send a JSON object or array, nested at most " +
                  std::to_string(kMaxJsonDepth) + " levels");
  }
}

Object::Ptr AsObject(const Var& value) {
  if (value.type() == typeid(Object::Ptr)) return value.extract<Object::Ptr>();
  return nullptr;
}

Array::Ptr AsArray(const Var& value) {
  if (value.type() == typeid(Array::Ptr)) return value.extract<Array::Ptr>();
  return nullptr;
}

// Returns the field's value, or an empty Var when missing or null.
Var Field(const Object::Ptr& object, const std::string& key) {
  if (!object || !object->has(key) || object->isNull(key)) return Var();
  return object->get(key);
}

std::string Stringify(const Object::Ptr& object) {
  std::ostringstream out;
  object->stringify(out);
  return out.str();
}

// Returns the first non-empty string among `keys`, or an empty string.
std::string FirstString(const Object::Ptr& object, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    Var value = Field(object, key);
    if (value.isString()) {
      std::string text = value.extract<std::string>();
      if (!text.empty()) return text;
    }
  }
  return "";
}

int64_t DaysFromCivil(int64_t year, int64_t month, int64_t day) {
  // Howard Hinnant's days_from_civil: days since 1970-01-01 in the proleptic
  // Gregorian calendar.
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

bool IsLeapYear(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int64_t DaysInMonth(int64_t year, int64_t month) {
  static constexpr std::array<int64_t, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[static_cast<size_t>(month - 1)];
}

// Reads exactly `count` digits at `pos`, advancing it.
bool ReadDigits(std::string_view text, size_t& pos, size_t count, int64_t& value) {
  if (pos + count > text.size()) return false;
  value = 0;
  for (size_t i = 0; i < count; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += count;
  return true;
}

// A timestamp-like JSON value: missing, text or a number.
struct TimeField {
  const char* name;
  Var value;
};

CaptureError OutsideEventYears(const TimeField& field, const std::string& where) {
  return Invalid(where + field.name + " " + Quote(field.value) +
                 " is outside the years 1970 to 9999; send the event's real time");
}

// Reads a timestamp or sent_at value as Unix milliseconds.
int64_t TimeFieldMs(const TimeField& field, const std::string& where) {
  std::optional<double> number;
  if (field.value.isString()) {
    std::string text = field.value.extract<std::string>();
    // Not range-checked here, because sent_at may still correct a skewed clock.
    if (std::optional<int64_t> parsed = ParseIso8601Ms(text)) return *parsed;
    // A number sent as a string, such as "1767225600". Only decimal digits,
    // a sign, a point and an exponent, because strtod also reads hexadecimal
    // ("0x1p40"), leading spaces, "inf" and "nan".
    bool decimal = !text.empty() && (std::isdigit(static_cast<unsigned char>(text[0])) ||
                                     text[0] == '-') &&
                   text.find_first_not_of("0123456789.eE+-") == std::string::npos;
    char* end = nullptr;
    double parsed_number = decimal ? std::strtod(text.c_str(), &end) : 0;
    if (decimal && end == text.c_str() + text.size() && std::isfinite(parsed_number)) {
      number = parsed_number;
    }
  } else if (field.value.isNumeric() && !field.value.isBoolean()) {
    number = field.value.convert<double>();
  }
  if (!number || !std::isfinite(*number)) {
    throw Invalid(where + field.name + " " + Quote(field.value) +
                  " is not a valid time; send ISO 8601 such as \"2026-01-02T03:04:05.678Z\" "
                  "or Unix seconds or milliseconds");
  }
  double ms = std::fabs(*number) >= 1e11 ? *number : *number * 1000.0;
  if (ms < 0 || ms > static_cast<double>(kMaxEventTimeMs)) throw OutsideEventYears(field, where);
  return static_cast<int64_t>(std::floor(ms));
}

int64_t FloorDiv(int64_t value, int64_t divisor) {
  int64_t quotient = value / divisor;
  return (value % divisor != 0 && value < 0) ? quotient - 1 : quotient;
}

// Computes the event's time in Unix milliseconds; see the header for the rules.
int64_t EventTimeMs(const Object::Ptr& event, const Var& batch_sent_at, int64_t received_at_ms,
                    const std::string& where) {
  TimeField timestamp{"timestamp", Field(event, "timestamp")};
  Var own_sent_at = Field(event, "sent_at");
  TimeField sent_at{"sent_at", own_sent_at.isEmpty() ? batch_sent_at : own_sent_at};
  Var offset = Field(event, "offset");
  Object::Ptr properties = AsObject(Field(event, "properties"));
  Var ignore = Field(properties, "$ignore_sent_at");
  bool ignore_sent_at = ignore.isBoolean() && ignore.extract<bool>();

  if (!timestamp.value.isEmpty()) {
    int64_t timestamp_ms = TimeFieldMs(timestamp, where);
    if (sent_at.value.isEmpty() || ignore_sent_at) {
      if (timestamp_ms < 0 || timestamp_ms > kMaxEventTimeMs) {
        throw OutsideEventYears(timestamp, where);
      }
      return timestamp_ms;
    }

    int64_t sent_at_ms = TimeFieldMs(sent_at, where);
    int64_t result = received_at_ms + (timestamp_ms - sent_at_ms);
    if (result < 0 || result > kMaxEventTimeMs) {
      throw Invalid(where + "timestamp " + Quote(timestamp.value) + " corrected by sent_at " +
                    Quote(sent_at.value) + " falls outside the years 1970 to 9999; check the "
                    "client's timestamp and sent_at");
    }
    return result;
  }

  if (!offset.isEmpty()) {
    if (!offset.isNumeric() || offset.isBoolean()) {
      throw Invalid(where + "offset " + Quote(offset) +
                    " is not a number; send milliseconds before sending, or a timestamp");
    }
    // Checked as a double first, because casting a double beyond int64 is undefined.
    double offset_ms = std::trunc(offset.convert<double>());
    double result = static_cast<double>(received_at_ms) - offset_ms;
    if (result < 0 || result > static_cast<double>(kMaxEventTimeMs)) {
      throw Invalid(where + "offset " + Quote(offset) +
                    " puts the event outside the years 1970 to 9999; send milliseconds before "
                    "sending, or a timestamp");
    }
    return received_at_ms - static_cast<int64_t>(offset_ms);
  }

  return received_at_ms;
}

std::string CanonicalUuid(const Var& value, const std::string& where) {
  std::string text = value.isString() ? value.extract<std::string>() : "";
  std::string hex;
  for (char c : text) {
    if (c == '-') continue;
    hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  bool valid = value.isString() && hex.size() == 32 &&
               std::all_of(hex.begin(), hex.end(), [](char c) { return std::isxdigit(c) != 0; }) &&
               (text.size() == 32 ||
                (text.size() == 36 && text[8] == '-' && text[13] == '-' && text[18] == '-' &&
                 text[23] == '-'));
  if (!valid) {
    throw Invalid(where + "uuid " + Quote(value) +
                  " is not a UUID; send 8-4-4-4-12 hex digits or leave uuid out");
  }
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

// Replaces NUL characters with U+FFFD, as PostHog's capture does, because
// they end strings early in C APIs and in sqlite3's output.
std::string ReplaceNul(std::string text) {
  std::string result;
  result.reserve(text.size());
  for (char c : text) {
    if (c == '\0') {
      result += "\xEF\xBF\xBD";
    } else {
      result.push_back(c);
    }
  }
  return result;
}

// Keeps the first `max_chars` UTF-8 characters of `text`.
std::string TruncateUtf8(const std::string& text, size_t max_chars) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (chars == max_chars) return text.substr(0, i);
      ++chars;
    }
  }
  return text;
}

std::string DistinctId(const Object::Ptr& event, const std::string& where) {
  Var value = Field(event, "distinct_id");
  if (value.isEmpty()) value = Field(AsObject(Field(event, "properties")), "distinct_id");

  // Poco reports a JSON true/false as numeric too, so booleans are excluded first.
  bool is_number = value.isNumeric() && !value.isBoolean();
  if (!value.isEmpty() && !value.isString() && !is_number) {
    throw Invalid(where + "distinct_id " + Quote(value) +
                  " is not a string or number; send the user's id as a string");
  }

  std::string text;
  if (value.isString()) {
    text = value.extract<std::string>();
  } else if (is_number && value.isInteger()) {
    text = value.convert<std::string>();
  } else if (is_number) {
    double number = value.convert<double>();
    if (std::isfinite(number) && number == std::floor(number) && std::fabs(number) < 9e15) {
      text = std::to_string(static_cast<int64_t>(number));
    } else {
      text = value.convert<std::string>();
    }
  }
  if (text.empty()) {
    throw Invalid(where + "distinct_id is missing or empty; set \"distinct_id\" to the user's id");
  }
  return TruncateUtf8(ReplaceNul(std::move(text)), kMaxDistinctIdChars);
}

// Top-level fields of a {"batch": [...]} body that apply to every event in it.
struct BatchDefaults {
  std::string token;
  Var sent_at;
};

QueuedEvent NormalizeEvent(const Object::Ptr& event, const BatchDefaults& defaults,
                           const CaptureContext& context,
                           const EventNormalizer::UuidGenerator& generate_uuid,
                           const std::string& where) {
  QueuedEvent result;
  result.received_at_ms = context.received_at_ms;

  Var name = Field(event, "event");
  if (!name.isString() || name.extract<std::string>().empty()) {
    throw Invalid(where + "event name is " + (name.isEmpty() ? "missing" : Quote(name)) +
                  "; set \"event\" to a non-empty string such as \"$identify\"");
  }
  result.event = ReplaceNul(name.extract<std::string>());

  result.distinct_id = DistinctId(event, where);

  Var uuid = Field(event, "uuid");
  result.uuid = uuid.isEmpty() ? generate_uuid(context.received_at_ms) : CanonicalUuid(uuid, where);

  Var properties = Field(event, "properties");
  if (!properties.isEmpty() && !AsObject(properties)) {
    throw Invalid(where + "properties is " + Quote(properties) + ", not an object; send "
                  "\"properties\": {...} or leave it out");
  }
  std::string token = FirstString(event, {"api_key", "token", "$token"});
  if (token.empty()) token = FirstString(AsObject(properties), {"token"});
  if (token.empty()) token = defaults.token;
  if (token.empty()) token = context.fallback_token;
  if (!token.empty()) result.project_token = token;

  int64_t event_ms = EventTimeMs(event, defaults.sent_at, context.received_at_ms, where);
  result.created_at = FloorDiv(event_ms, 1000);

  result.payload = Stringify(event);
  return result;
}

void CheckEventCount(size_t count, const CaptureContext& context) {
  if (context.max_events > 0 && count > static_cast<size_t>(context.max_events)) {
    throw CaptureError(CaptureError::Kind::kTooLarge,
                       "request has " + std::to_string(count) +
                           " events, more than max_events_per_request=" +
                           std::to_string(context.max_events) + "; send smaller batches");
  }
}

}  // namespace

EventNormalizer::EventNormalizer() : generate_uuid_(NewUuidV7) {}

EventNormalizer::EventNormalizer(UuidGenerator generate_uuid)
    : generate_uuid_(std::move(generate_uuid)) {}

std::vector<QueuedEvent> EventNormalizer::ParseCapture(std::string_view json_text,
                                                       const CaptureContext& context) const {
  Var root = ParseJson(json_text);
  BatchDefaults defaults;
  Array::Ptr events;
  Object::Ptr single;
  const char* label = "batch";

  if (Object::Ptr object = AsObject(root)) {
    Var batch = Field(object, "batch");
    if (!batch.isEmpty()) {
      events = AsArray(batch);
      if (!events) {
        throw Invalid("batch is " + Quote(batch) + ", not an array; send {\"batch\": [events]}");
      }
      defaults.token = FirstString(object, {"api_key", "token", "$token"});
      defaults.sent_at = Field(object, "sent_at");
    } else {
      single = object;
    }
  } else if ((events = AsArray(root))) {
    label = "events";
  } else {
    throw Invalid("body is " + Quote(root) +
                  "; send an event object, an array of events or {\"batch\": [events]}");
  }

  std::vector<QueuedEvent> result;
  if (single) {
    result.push_back(NormalizeEvent(single, defaults, context, generate_uuid_, ""));
    return result;
  }

  if (events->size() == 0) {
    throw Invalid(std::string(label) + " is empty; send at least one event");
  }
  CheckEventCount(events->size(), context);
  result.reserve(events->size());
  for (size_t i = 0; i < events->size(); ++i) {
    std::string where = std::string(label) + "[" + std::to_string(i) + "]: ";
    Object::Ptr event = AsObject(events->get(static_cast<unsigned>(i)));
    if (!event) {
      throw Invalid(where + "is " + Quote(events->get(static_cast<unsigned>(i))) +
                    ", not an event object; send objects with event and distinct_id");
    }
    result.push_back(NormalizeEvent(event, defaults, context, generate_uuid_, where));
  }
  return result;
}

QueuedEvent EventNormalizer::ParseWebhook(std::string_view json_text,
                                          const CaptureContext& context) const {
  Object::Ptr root = AsObject(ParseJson(json_text));
  if (!root) {
    throw Invalid("webhook body is not a JSON object; send {\"event\": {...}, \"person\": {...}}");
  }
  Object::Ptr event = AsObject(Field(root, "event"));
  if (!event) {
    throw Invalid("webhook body has no \"event\" object; send {\"event\": {...}, \"person\": {...}} "
                  "as PostHog's HTTP Webhook destination does");
  }
  Var person = Field(root, "person");
  if (!person.isEmpty() && !AsObject(person)) {
    throw Invalid("webhook person is " + Quote(person) + ", not an object; send \"person\": {...}");
  }

  QueuedEvent result = NormalizeEvent(event, BatchDefaults{}, context, generate_uuid_, "event: ");
  if (Object::Ptr person_object = AsObject(person)) result.person = Stringify(person_object);
  return result;
}

std::optional<int64_t> ParseIso8601Ms(std::string_view text) {
  size_t pos = 0;
  int64_t year, month, day, hour = 0, minute = 0, second = 0, millis = 0;
  if (!ReadDigits(text, pos, 4, year) || pos >= text.size() || text[pos++] != '-' ||
      !ReadDigits(text, pos, 2, month) || pos >= text.size() || text[pos++] != '-' ||
      !ReadDigits(text, pos, 2, day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) return std::nullopt;

  int64_t offset_minutes = 0;
  if (pos < text.size()) {
    char separator = text[pos++];
    if (separator != 'T' && separator != 't' && separator != ' ') return std::nullopt;
    if (!ReadDigits(text, pos, 2, hour) || pos >= text.size() || text[pos++] != ':' ||
        !ReadDigits(text, pos, 2, minute)) {
      return std::nullopt;
    }
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      if (!ReadDigits(text, pos, 2, second)) return std::nullopt;
      if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
        ++pos;
        size_t digits = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
          if (digits < 3) millis = millis * 10 + (text[pos] - '0');
          ++digits;
          ++pos;
        }
        if (digits == 0) return std::nullopt;
        for (size_t i = digits; i < 3; ++i) millis *= 10;
      }
    }
    // A leap second (:60) counts as the last millisecond of its minute.
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
    if (second == 60) {
      second = 59;
      millis = 999;
    }

    if (pos < text.size()) {
      char sign = text[pos++];
      if (sign == 'Z' || sign == 'z') {
        if (pos != text.size()) return std::nullopt;
      } else if (sign == '+' || sign == '-') {
        int64_t offset_hours, offset_mins = 0;
        if (!ReadDigits(text, pos, 2, offset_hours)) return std::nullopt;
        if (pos < text.size() && text[pos] == ':') ++pos;
        if (pos < text.size() && !ReadDigits(text, pos, 2, offset_mins)) return std::nullopt;
        if (pos != text.size() || offset_hours > 23 || offset_mins > 59) return std::nullopt;
        offset_minutes = (sign == '+' ? 1 : -1) * (offset_hours * 60 + offset_mins);
      } else {
        return std::nullopt;
      }
    }
  }

  int64_t seconds = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second -
                    offset_minutes * 60;
  return seconds * 1000 + millis;
}

void CheckProjectTokens(const std::vector<QueuedEvent>& events,
                        const std::vector<std::string>& api_keys,
                        const std::string& missing_token_advice) {
  if (api_keys.empty()) return;
  for (size_t i = 0; i < events.size(); ++i) {
    const std::optional<std::string>& token = events[i].project_token;
    std::string where = events.size() > 1 ? "event " + std::to_string(i) + ": " : "";
    if (!token) {
      throw CaptureError(CaptureError::Kind::kUnauthorized,
                         where + "project token is missing; " + missing_token_advice);
    }
    if (std::find(api_keys.begin(), api_keys.end(), *token) == api_keys.end()) {
      throw CaptureError(CaptureError::Kind::kUnauthorized,
                         where + "project token is not in [ingest] api_keys; use a configured "
                                 "project token or add it to api_keys");
    }
  }
}

std::string NewUuidV7(int64_t now_ms) {
  thread_local std::mt19937_64 random(std::random_device{}());
  uint64_t high = (static_cast<uint64_t>(now_ms) & 0xFFFFFFFFFFFFull) << 16;
  high |= 0x7000 | (random() & 0x0FFF);                          // version 7
  uint64_t low = (random() & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;  // variant 10
  char text[37];
  std::snprintf(text, sizeof(text), "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(high >> 32), static_cast<unsigned>((high >> 16) & 0xFFFF),
                static_cast<unsigned>(high & 0xFFFF), static_cast<unsigned>(low >> 48),
                static_cast<unsigned long long>(low & 0xFFFFFFFFFFFFull));
  return text;
}

}  // namespace connector
