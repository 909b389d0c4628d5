#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace connector::log {

// One key=value pair of a log line. Values with spaces, quotes or '=' are
// quoted, so every line stays machine-parseable.
struct Field {
  Field(std::string_view key, std::string_view value);
  Field(std::string_view key, const char* value);
  Field(std::string_view key, const std::string& value);
  Field(std::string_view key, int64_t value);
  Field(std::string_view key, int value);
  Field(std::string_view key, unsigned value);
  Field(std::string_view key, uint64_t value);
  Field(std::string_view key, double value);
  Field(std::string_view key, bool value);

  std::string key;
  std::string value;
};

enum class Level { kDebug, kInfo, kWarn, kError };

// Routes log lines through Poco's root logger to stderr as
// `ts=2026-01-02T03:04:05.678Z level=info msg=... key=value`. Call once at
// start-up, before other threads log. Lines below `level` are dropped.
void Setup(Level level);

// Parses "debug", "info", "warn" or "error".
bool ParseLevel(std::string_view text, Level& level);

// Writes one line; `msg` is a fixed word from the project's log vocabulary
// (such as "delivered" or "retry_scheduled"), never user data. Thread-safe.
void Write(Level level, std::string_view msg, std::initializer_list<Field> fields);

inline void Debug(std::string_view msg, std::initializer_list<Field> fields = {}) {
  Write(Level::kDebug, msg, fields);
}
inline void Info(std::string_view msg, std::initializer_list<Field> fields = {}) {
  Write(Level::kInfo, msg, fields);
}
inline void Warn(std::string_view msg, std::initializer_list<Field> fields = {}) {
  Write(Level::kWarn, msg, fields);
}
inline void Error(std::string_view msg, std::initializer_list<Field> fields = {}) {
  Write(Level::kError, msg, fields);
}

// Formats the `msg=... key=value` part of a line; exposed for tests.
std::string FormatFields(std::string_view msg, std::initializer_list<Field> fields);

}  // namespace connector::log
