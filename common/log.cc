#include "common/log.h"

#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Formatter.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>

#include <cstdio>

namespace connector::log {
namespace {

bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

std::string Quote(std::string_view value) {
  if (!NeedsQuotes(value)) return std::string(value);
  std::string quoted = "\"";
  for (char c : value) {
    switch (c) {
      case '"': quoted += "\\\""; break;
      case '\\': quoted += "\\\\"; break;
      case '\n': quoted += "\\n"; break;
      case '\r': quoted += "\\r"; break;
      case '\t': quoted += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<unsigned char>(c));
          quoted += escaped;
        } else {
          quoted += c;
        }
    }
  }
  return quoted + "\"";
}

// Prefixes each message with its UTC time and level.
class LineFormatter : public Poco::Formatter {
 public:
  void format(const Poco::Message& message, std::string& text) override {
    text = "ts=" + Poco::DateTimeFormatter::format(message.getTime(), "%Y-%m-%dT%H:%M:%S.%iZ");
    text += " level=";
    switch (message.getPriority()) {
      case Poco::Message::PRIO_DEBUG:
      case Poco::Message::PRIO_TRACE: text += "debug"; break;
      case Poco::Message::PRIO_INFORMATION:
      case Poco::Message::PRIO_NOTICE: text += "info"; break;
      case Poco::Message::PRIO_WARNING: text += "warn"; break;
      default: text += "error"; break;
    }
    text += ' ';
    text += message.getText();
  }
};

Poco::Message::Priority ToPriority(Level level) {
  switch (level) {
    case Level::kDebug: return Poco::Message::PRIO_DEBUG;
    case Level::kInfo: return Poco::Message::PRIO_INFORMATION;
    case Level::kWarn: return Poco::Message::PRIO_WARNING;
    case Level::kError: return Poco::Message::PRIO_ERROR;
  }
  return Poco::Message::PRIO_INFORMATION;
}

}  // namespace

Field::Field(std::string_view k, std::string_view v) : key(k), value(v) {}
Field::Field(std::string_view k, const char* v) : key(k), value(v == nullptr ? "" : v) {}
Field::Field(std::string_view k, const std::string& v) : key(k), value(v) {}
Field::Field(std::string_view k, int64_t v) : key(k), value(std::to_string(v)) {}
Field::Field(std::string_view k, int v) : key(k), value(std::to_string(v)) {}
Field::Field(std::string_view k, unsigned v) : key(k), value(std::to_string(v)) {}
Field::Field(std::string_view k, uint64_t v) : key(k), value(std::to_string(v)) {}
Field::Field(std::string_view k, double v) : key(k) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", v);
  value = text;
}
Field::Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}

void Setup(Level level) {
  Poco::AutoPtr<Poco::ConsoleChannel> console(new Poco::ConsoleChannel);
  Poco::AutoPtr<Poco::FormattingChannel> formatting(
      new Poco::FormattingChannel(new LineFormatter, console));
  Poco::Logger& root = Poco::Logger::root();
  root.setChannel(formatting);
  root.setLevel(ToPriority(level));
}

bool ParseLevel(std::string_view text, Level& level) {
  if (text == "debug") level = Level::kDebug;
  else if (text == "info") level = Level::kInfo;
  else if (text == "warn") level = Level::kWarn;
  else if (text == "error") level = Level::kError;
  else return false;
  return true;
}

std::string FormatFields(std::string_view msg, std::initializer_list<Field> fields) {
  std::string line = "msg=" + Quote(msg);
  for (const Field& field : fields) {
    line += ' ';
    line += field.key;
    line += '=';
    line += Quote(field.value);
  }
  return line;
}

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  Poco::Logger& root = Poco::Logger::root();
  Poco::Message::Priority priority = ToPriority(level);
  if (!root.is(priority)) return;
  root.log(Poco::Message("connector", FormatFields(msg, fields), priority));
}

}  // namespace connector::log
