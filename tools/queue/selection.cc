#include "tools/queue/selection.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <sstream>

#include "common/config.h"

namespace connector::queue_tool {
namespace {

bool IsAllDigits(const std::string& text) {
  return !text.empty() && text.size() <= 18 &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

// Splits "failed,pending" into its parts, so --state takes a list as well as
// repeats.
std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ',')) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

std::optional<int64_t> ParseCalendarTime(const std::string& text) {
  std::tm utc{};
  int consumed = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &year, &month, &day, &consumed) != 3 ||
      consumed != 10) {
    return std::nullopt;
  }
  std::string rest = text.substr(10);
  if (!rest.empty()) {
    if (rest[0] != 'T' && rest[0] != ' ') return std::nullopt;
    if (rest.back() == 'Z') rest.pop_back();
    int fields = 0;
    consumed = 0;
    fields = std::sscanf(rest.c_str() + 1, "%2d:%2d%n:%2d%n", &hour, &minute, &consumed, &second,
                         &consumed);
    if (fields < 2 || static_cast<size_t>(consumed) + 1 != rest.size()) return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  utc.tm_year = year - 1900;
  utc.tm_mon = month - 1;
  utc.tm_mday = day;
  utc.tm_hour = hour;
  utc.tm_min = minute;
  utc.tm_sec = second;
  return static_cast<int64_t>(timegm(&utc)) * 1000;
}

}  // namespace

bool EventFilter::HasConditions() const {
  return HasIdentifiers() || !states.empty() || event || email || distinct_id || since_ms ||
         until_ms;
}

const std::vector<std::string>& AllStates() {
  static const std::vector<std::string> kStates = {"pending", "leased", "delivered", "skipped",
                                                   "failed"};
  return kStates;
}

std::vector<OptionSpec> FilterOptions(const std::string& time_meaning) {
  return {
      {"--state", "STATE", "only events in STATE: pending, leased, delivered, skipped, failed",
       true},
      {"--event", "NAME", "only events with this event name, such as $identify"},
      {"--email", "ADDRESS",
       "only events for this email, ignoring case: the address the worker resolved, or any "
       "place it looks (distinct_id, $set, $set_once, properties.email, the webhook person)"},
      {"--distinct-id", "ID", "only events with this distinct_id"},
      {"--since", "TIME",
       "only events " + time_meaning + " at or after TIME: a duration ago (30m, 2d), a date "
       "(2026-01-31) or a UTC time (2026-01-31T14:05Z)"},
      {"--until", "TIME", "only events " + time_meaning + " before TIME, same forms as --since"},
      {"--limit", "N", "at most N events, oldest id first"},
  };
}

int64_t ParseTimeArg(const std::string& option, const std::string& text, int64_t now_ms) {
  if (text == "now") return now_ms;
  if (std::optional<Milliseconds> ago = ParseDuration(text)) return now_ms - ago->count();
  if (std::optional<int64_t> at = ParseCalendarTime(text)) return *at;
  throw UsageError("invalid " + option + " \"" + text +
                   "\"; expected a duration ago such as 30m or 2d, a date such as 2026-01-31, "
                   "or a UTC time such as 2026-01-31T14:05Z");
}

EventFilter ParseFilter(const ParsedArgs& args, int64_t now_ms, bool take_identifiers) {
  EventFilter filter;

  for (const std::string& word : args.positionals) {
    if (!take_identifiers) throw UsageError("unexpected argument \"" + word + "\"");
    if (IsAllDigits(word)) {
      filter.ids.push_back(std::stoll(word));
    } else {
      filter.uuids.push_back(word);
    }
  }

  for (const std::string& value : args.Values("--state")) {
    for (const std::string& state : SplitCommas(value)) {
      const auto& states = AllStates();
      if (std::find(states.begin(), states.end(), state) == states.end()) {
        throw UsageError("invalid --state \"" + state +
                         "\"; expected pending, leased, delivered, skipped or failed");
      }
      filter.states.push_back(state);
    }
  }

  if (args.Has("--event")) filter.event = args.Value("--event");
  if (args.Has("--email")) filter.email = args.Value("--email");
  if (args.Has("--distinct-id")) filter.distinct_id = args.Value("--distinct-id");
  if (args.Has("--since")) filter.since_ms = ParseTimeArg("--since", args.Value("--since"), now_ms);
  if (args.Has("--until")) filter.until_ms = ParseTimeArg("--until", args.Value("--until"), now_ms);
  if (filter.since_ms && filter.until_ms && *filter.since_ms >= *filter.until_ms) {
    throw UsageError("--since " + args.Value("--since") + " is not before --until " +
                     args.Value("--until") + "; swap them");
  }

  if (args.Has("--limit")) {
    std::string limit = args.Value("--limit");
    if (!IsAllDigits(limit) || std::stoll(limit) == 0) {
      throw UsageError("invalid --limit \"" + limit + "\"; expected a whole number above 0");
    }
    filter.limit = std::stoll(limit);
  }
  return filter;
}

SqlCondition BuildCondition(const EventFilter& filter, const std::string& time_column) {
  SqlCondition condition;
  std::vector<std::string> parts;

  auto placeholders = [](size_t count) {
    std::string list;
    for (size_t i = 0; i < count; ++i) list += i == 0 ? "?" : ", ?";
    return list;
  };

  // Positional ids and uuids select events by either key.
  if (filter.HasIdentifiers()) {
    std::vector<std::string> keys;
    if (!filter.ids.empty()) keys.push_back("id IN (" + placeholders(filter.ids.size()) + ")");
    if (!filter.uuids.empty()) {
      keys.push_back("uuid IN (" + placeholders(filter.uuids.size()) + ")");
    }
    parts.push_back(keys.size() == 1 ? keys[0] : "(" + keys[0] + " OR " + keys[1] + ")");
    for (int64_t id : filter.ids) condition.values.emplace_back(id);
    for (const std::string& uuid : filter.uuids) condition.values.emplace_back(uuid);
  }

  if (!filter.states.empty()) {
    parts.push_back("state IN (" + placeholders(filter.states.size()) + ")");
    for (const std::string& state : filter.states) condition.values.emplace_back(state);
  }
  if (filter.event) {
    parts.push_back("event = ?");
    condition.values.emplace_back(*filter.event);
  }
  if (filter.distinct_id) {
    parts.push_back("distinct_id = ?");
    condition.values.emplace_back(*filter.distinct_id);
  }

  // The worker stores the email it resolved in `email`. Before that, the
  // address is only in the event, so match every candidate the worker's
  // EmailResolver reads. NOTE: this matches the candidates as stored, while
  // the resolver trims them first, so an address with spaces around it in
  // the payload is only found once the worker has resolved it.
  if (filter.email) {
    static const char* const kCandidates[] = {
        "email",
        "distinct_id",
        "json_extract(payload, '$.\"$set\".email')",
        "json_extract(payload, '$.properties.\"$set\".email')",
        "json_extract(payload, '$.\"$set_once\".email')",
        "json_extract(payload, '$.properties.\"$set_once\".email')",
        "json_extract(payload, '$.properties.email')",
        "json_extract(person, '$.properties.email')",
        "json_extract(person, '$.email')",
    };
    std::string any;
    for (const char* candidate : kCandidates) {
      any += any.empty() ? "(" : " OR ";
      any += std::string(candidate) + " = ? COLLATE NOCASE";
      condition.values.emplace_back(*filter.email);
    }
    parts.push_back(any + ")");
  }

  if (filter.since_ms) {
    parts.push_back(time_column + " >= ?");
    condition.values.emplace_back(*filter.since_ms);
  }
  if (filter.until_ms) {
    parts.push_back(time_column + " < ?");
    condition.values.emplace_back(*filter.until_ms);
  }

  if (parts.empty()) {
    condition.sql = "1";
  } else {
    condition.sql = parts[0];
    for (size_t i = 1; i < parts.size(); ++i) condition.sql += " AND " + parts[i];
  }
  return condition;
}

int SqlCondition::Bind(SQLite::Statement& statement) const {
  int index = 1;
  for (const auto& value : values) {
    if (std::holds_alternative<int64_t>(value)) {
      statement.bind(index++, std::get<int64_t>(value));
    } else {
      statement.bind(index++, std::get<std::string>(value));
    }
  }
  return index;
}

}  // namespace connector::queue_tool
