#include "common/json_parser.h"

#include <Poco/JSON/JSONException.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <Poco/NumberParser.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace connector {
namespace {

// Keys and numbers longer than these are cut in an error message, so a huge
// key or number cannot flood the response or the log.
constexpr size_t kMaxPathKeyChars = 40;
constexpr size_t kMaxNumberChars = 64;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsNumberChar(char c) {
  return IsDigit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

// Returns true when `text` follows JSON's number grammar (RFC 8259):
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view text) {
  size_t pos = 0;
  auto digits = [&] {
    size_t start = pos;
    while (pos < text.size() && IsDigit(text[pos])) ++pos;
    return pos > start;
  };
  if (pos < text.size() && text[pos] == '-') ++pos;
  if (pos < text.size() && text[pos] == '0') {
    ++pos;
  } else if (!digits()) {
    return false;
  }
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    if (!digits()) return false;
  }
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    ++pos;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
    if (!digits()) return false;
  }
  return pos == text.size();
}

// The value of a JSON number, or std::monostate when it is beyond a double's range.
using NumberValue = std::variant<std::monostate, Poco::Int64, Poco::UInt64, double>;

// Reads a number that follows JSON's grammar: an integer within int64 or
// uint64 exactly, anything else as the nearest double.
NumberValue ReadNumber(std::string_view text) {
  const char* end = text.data() + text.size();
  if (text.find_first_of(".eE") == std::string_view::npos) {
    Poco::Int64 signed_value = 0;
    auto [signed_end, signed_error] = std::from_chars(text.data(), end, signed_value);
    if (signed_error == std::errc() && signed_end == end) return signed_value;
    Poco::UInt64 unsigned_value = 0;
    auto [unsigned_end, unsigned_error] = std::from_chars(text.data(), end, unsigned_value);
    if (unsigned_error == std::errc() && unsigned_end == end) return unsigned_value;
  }
  // Poco's float parser (double-conversion) rounds to the nearest double. For
  // a number in JSON's grammar it fails only when the result would be
  // infinite, and the isfinite check covers that case as well.
  double number = 0;
  if (Poco::NumberParser::tryParseFloat(std::string(text), number) && std::isfinite(number)) {
    return number;
  }
  return std::monostate();
}

// A number as written in the JSON text, and its value.
struct NumberToken {
  std::string_view text;
  // True when `text` follows JSON's number grammar, and only then is `value` set.
  bool valid = false;
  NumberValue value;
  // Poco 1.11's parser throws on this valid number (an integer beyond uint64,
  // or a number beyond a double), so it must see a placeholder instead.
  bool poco_rejects = false;
};

// Counts of a JSON text's structure, taken before Poco's parser runs.
struct TextScan {
  // Every number outside strings, in document order. In valid JSON a value
  // that starts with '-' or a digit is a number, so the list matches the
  // numbers Poco's parser reports, one for one and in that order.
  std::vector<NumberToken> numbers;
};

// One open object or array while scanning.
struct ScanFrame {
  bool is_object = false;
  bool expect_key = false;  // in an object, the next string is a key
  size_t keys = 0;
};

// Scans `text` once, in linear time, for its numbers, and throws
// JsonTooLarge as soon as it exceeds `limits`. The counts assume valid JSON.
// For invalid text they may be off, but Poco's parser rejects it anyway.
TextScan ScanText(std::string_view text, const JsonLimits& limits) {
  TextScan scan;
  std::vector<ScanFrame> frames;
  size_t values = 0;
  size_t containers = 0;
  auto count_value = [&](size_t offset) {
    if (++values > limits.max_values) {
      throw JsonTooLarge("more than " + std::to_string(limits.max_values) +
                         " JSON values (objects, arrays, strings, numbers, literals), the "
                         "limit per document, reached at byte " + std::to_string(offset));
    }
  };
  size_t pos = 0;
  while (pos < text.size()) {
    char c = text[pos];
    if (c == '"') {
      size_t start = pos;
      ++pos;
      while (pos < text.size() && text[pos] != '"') pos += text[pos] == '\\' ? 2 : 1;
      ++pos;
      if (!frames.empty() && frames.back().expect_key) {
        frames.back().expect_key = false;
        if (++frames.back().keys > limits.max_object_keys) {
          throw JsonTooLarge("an object with more than " +
                             std::to_string(limits.max_object_keys) +
                             " keys, the limit per object, at byte " + std::to_string(start));
        }
      } else {
        count_value(start);
      }
    } else if (c == '-' || IsDigit(c)) {
      count_value(pos);
      size_t start = pos;
      while (pos < text.size() && IsNumberChar(text[pos])) ++pos;
      NumberToken token;
      token.text = text.substr(start, pos - start);
      token.valid = IsJsonNumber(token.text);
      if (token.valid) {
        token.value = ReadNumber(token.text);
        bool integer = token.text.find_first_of(".eE") == std::string_view::npos;
        token.poco_rejects = std::holds_alternative<std::monostate>(token.value) ||
                             (integer && std::holds_alternative<double>(token.value));
      }
      scan.numbers.push_back(token);
    } else {
      if (c == '{' || c == '[') {
        count_value(pos);
        if (++containers > limits.max_containers) {
          throw JsonTooLarge("more than " + std::to_string(limits.max_containers) +
                             " JSON objects and arrays, the limit per document, reached at "
                             "byte " + std::to_string(pos));
        }
        // Past the depth limit Poco's parser stops at this same bracket, so
        // nothing after it needs scanning, and the frames stay bounded. The
        // margin of one covers either reading of where the limit falls.
        if (frames.size() > limits.max_depth) return scan;
        frames.push_back(ScanFrame{c == '{', c == '{', 0});
      } else if (c == '}' || c == ']') {
        if (!frames.empty()) frames.pop_back();
      } else if (c == ',') {
        if (!frames.empty() && frames.back().is_object) frames.back().expect_key = true;
      } else if (c == 't' || c == 'f' || c == 'n') {
        count_value(pos);
        while (pos + 1 < text.size() && text[pos + 1] >= 'a' && text[pos + 1] <= 'z') ++pos;
      }
      ++pos;
    }
  }
  return scan;
}

// Returns `text` with each number Poco would reject replaced by 0. The
// handler gives those numbers their real value (or reports them), so the
// placeholder never reaches the document.
std::string WithPlaceholders(const std::string& text, const std::vector<NumberToken>& tokens) {
  std::string result;
  size_t copied = 0;
  for (const NumberToken& token : tokens) {
    if (!token.poco_rejects) continue;
    size_t offset = static_cast<size_t>(token.text.data() - text.data());
    result.append(text, copied, offset - copied);
    result += '0';
    copied = offset + token.text.size();
  }
  result.append(text, copied, std::string::npos);
  return result;
}

bool IsPlainName(const std::string& key) {
  if (key.empty() || IsDigit(key[0])) return false;
  for (char c : key) {
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!letter && !IsDigit(c) && c != '_') return false;
  }
  return true;
}

// Renders an object key as a JSONPath segment: .name, or ['...'] with quotes,
// backslashes and control characters escaped. Keeps the first
// kMaxPathKeyChars UTF-8 characters.
std::string PathSegment(const std::string& key) {
  if (IsPlainName(key) && key.size() <= kMaxPathKeyChars) return "." + key;
  std::string segment = "['";
  size_t chars = 0;
  for (char c : key) {
    bool starts_character = (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (starts_character && chars++ == kMaxPathKeyChars) {
      segment += "...";
      break;
    }
    if (c == '\'' || c == '\\') {
      segment += '\\';
      segment += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", static_cast<unsigned>(c));
      segment += escaped;
    } else {
      segment += c;
    }
  }
  return segment + "']";
}

// Builds Poco's document like ParseHandler, but replaces each number Poco
// reports with the value read from that number's text (see ScanText),
// and tracks the path of the current value for error messages.
class NumberTextHandler : public Poco::JSON::ParseHandler {
 public:
  explicit NumberTextHandler(std::vector<NumberToken> numbers)
      : ParseHandler(/*preserveObjectOrder=*/true), numbers_(std::move(numbers)) {}

  void startObject() override {
    EnterValue();
    frames_.push_back(Frame{});
    ParseHandler::startObject();
  }
  void endObject() override {
    if (!frames_.empty()) frames_.pop_back();
    ParseHandler::endObject();
  }
  void startArray() override {
    EnterValue();
    Frame frame;
    frame.is_array = true;
    frames_.push_back(std::move(frame));
    ParseHandler::startArray();
  }
  void endArray() override {
    if (!frames_.empty()) frames_.pop_back();
    ParseHandler::endArray();
  }
  void key(const std::string& name) override {
    if (!frames_.empty()) frames_.back().key = name;
    ParseHandler::key(name);
  }

  void null() override {
    EnterValue();
    ParseHandler::null();
  }
  void value(bool flag) override {
    EnterValue();
    ParseHandler::value(flag);
  }
  void value(const std::string& text) override {
    EnterValue();
    ParseHandler::value(text);
  }
  void value(int) override { Number(); }
  void value(unsigned) override { Number(); }
  void value(Poco::Int64) override { Number(); }
  void value(Poco::UInt64) override { Number(); }
  void value(double) override { Number(); }

  // Throws JsonNumberOutOfRange, or JSONException when the scan and Poco's
  // parser disagree on the numbers. Call it after Poco accepted the text.
  void CheckNumbers() const {
    if (mismatch_ || next_number_ != numbers_.size()) {
      throw Poco::JSON::JSONException("the numbers in the text do not match the parsed document");
    }
    if (out_of_range_) throw *out_of_range_;
  }

 private:
  // One open object or array, and the position of its current value.
  struct Frame {
    bool is_array = false;
    int64_t index = -1;  // array element being parsed
    std::string key;     // object member being parsed
  };

  void EnterValue() {
    if (!frames_.empty() && frames_.back().is_array) ++frames_.back().index;
  }

  std::string Path() const {
    std::string path = "$";
    for (const Frame& frame : frames_) {
      if (frame.is_array) {
        path += '[';
        path += std::to_string(frame.index);
        path += ']';
      } else {
        path += PathSegment(frame.key);
      }
    }
    return path;
  }

  void Number() {
    EnterValue();
    if (next_number_ >= numbers_.size() || !numbers_[next_number_].valid) {
      // Poco read a number where the scan found none, or an invalid one, so
      // CheckNumbers reports a mismatch.
      mismatch_ = true;
      ++next_number_;
      ParseHandler::null();
      return;
    }
    const NumberToken& token = numbers_[next_number_++];
    if (std::holds_alternative<Poco::Int64>(token.value)) {
      ParseHandler::value(std::get<Poco::Int64>(token.value));
    } else if (std::holds_alternative<Poco::UInt64>(token.value)) {
      ParseHandler::value(std::get<Poco::UInt64>(token.value));
    } else if (std::holds_alternative<double>(token.value)) {
      ParseHandler::value(std::get<double>(token.value));
    } else {
      if (!out_of_range_) {
        std::string shown(token.text.substr(0, kMaxNumberChars));
        if (token.text.size() > kMaxNumberChars) shown.replace(kMaxNumberChars - 3, 3, "...");
        out_of_range_.emplace(Path(), std::move(shown));
      }
      ParseHandler::null();
    }
  }

  std::vector<NumberToken> numbers_;
  size_t next_number_ = 0;
  bool mismatch_ = false;
  std::vector<Frame> frames_;
  std::optional<JsonNumberOutOfRange> out_of_range_;
};

}  // namespace

JsonNumberOutOfRange::JsonNumberOutOfRange(std::string path, std::string number)
    : std::runtime_error("number " + number + " at " + path +
                         " is beyond the range of a double (about 1.8e308)"),
      path_(std::move(path)),
      number_(std::move(number)) {}

Poco::Dynamic::Var ParseJsonExactNumbers(const std::string& text, size_t max_depth) {
  JsonLimits limits;
  limits.max_depth = max_depth;
  return ParseJsonExactNumbers(text, limits);
}

Poco::Dynamic::Var ParseJsonExactNumbers(const std::string& text, const JsonLimits& limits) {
  std::vector<NumberToken> numbers = ScanText(text, limits).numbers;
  bool needs_placeholders = std::any_of(
      numbers.begin(), numbers.end(), [](const NumberToken& token) { return token.poco_rejects; });
  std::string replaced = needs_placeholders ? WithPlaceholders(text, numbers) : std::string();

  Poco::SharedPtr<NumberTextHandler> handler = new NumberTextHandler(std::move(numbers));
  Poco::JSON::Parser parser(handler);
  parser.setDepth(limits.max_depth);
  Poco::Dynamic::Var result = parser.parse(needs_placeholders ? replaced : text);
  handler->CheckNumbers();
  return result;
}

}  // namespace connector
