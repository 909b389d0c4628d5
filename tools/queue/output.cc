#include "tools/queue/output.h"

#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <ostream>
#include <sstream>

namespace connector::queue_tool {
namespace {

// Decodes the UTF-8 sequence at text[pos] and sets `length` to its size.
// Returns -1 with `length` 1 for a byte that does not start a valid sequence:
// a stray continuation byte, a cut sequence, an overlong form, a surrogate or
// a value over U+10FFFF.
int32_t DecodeUtf8(std::string_view text, size_t pos, size_t& length) {
  auto lead = static_cast<unsigned char>(text[pos]);
  length = 1;
  if (lead < 0x80) return lead;

  // The lead byte gives the sequence length and the smallest code point that
  // needs that length; anything smaller is an overlong form.
  size_t count = 0;
  int32_t minimum = 0;
  if ((lead & 0xe0) == 0xc0) {
    count = 2;
    minimum = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    count = 3;
    minimum = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    count = 4;
    minimum = 0x10000;
  } else {
    return -1;
  }
  int32_t code_point = lead & (0x7f >> count);
  if (pos + count > text.size()) return -1;
  for (size_t i = 1; i < count; ++i) {
    auto next = static_cast<unsigned char>(text[pos + i]);
    if ((next & 0xc0) != 0x80) return -1;
    code_point = (code_point << 6) | (next & 0x3f);
  }
  if (code_point < minimum || code_point > 0x10ffff ||
      (code_point >= 0xd800 && code_point <= 0xdfff)) {
    return -1;
  }
  length = count;
  return code_point;
}

// True for the characters EscapeText escapes: controls, and those that
// break or reorder lines on a terminal.
bool IsUnsafeOnTerminal(int32_t code_point) {
  return code_point < 0x20 || code_point == 0x7f || (code_point >= 0x80 && code_point <= 0x9f) ||
         code_point == 0x2028 || code_point == 0x2029 ||
         (code_point >= 0x202a && code_point <= 0x202e) ||
         (code_point >= 0x2066 && code_point <= 0x2069);
}

std::string HexEscape(const char* format, unsigned value) {
  char text[16];  // fits any unsigned value, so GCC reports no truncation
  std::snprintf(text, sizeof text, format, value);
  return text;
}

// Returns `json` (Poco's output) with DEL, C1 controls, U+2028, U+2029 and
// bidirectional controls as \uHHHH, and bytes that are not valid UTF-8 as
// \uFFFD. Such characters can only sit inside strings, because Poco writes
// everything else in ASCII, and never right after an unescaped backslash.
std::string EscapeJsonOutput(std::string_view json) {
  std::string escaped;
  escaped.reserve(json.size());
  for (size_t pos = 0; pos < json.size();) {
    size_t length = 1;
    int32_t code_point = DecodeUtf8(json, pos, length);
    if (code_point < 0) {
      escaped += "\\uFFFD";
    } else if (code_point >= 0x7f && IsUnsafeOnTerminal(code_point)) {
      escaped += HexEscape("\\u%04X", static_cast<unsigned>(code_point));
    } else {
      escaped.append(json.substr(pos, length));
    }
    pos += length;
  }
  return escaped;
}

// Returns the number of code points in valid UTF-8 `text`.
size_t CodePoints(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char byte) {
    return (static_cast<unsigned char>(byte) & 0xc0) != 0x80;
  }));
}

// Cuts valid UTF-8 `cell` to kMaxAlignedWidth code points, ending in "...".
// NOTE: a code point is taken as one column, so East Asian wide characters
// and emoji, which take two, push the rest of their row to the right.
std::string Cut(const std::string& cell) {
  if (CodePoints(cell) <= Table::kMaxAlignedWidth) return cell;
  size_t code_points_before = 0;
  size_t end = 0;
  for (; end < cell.size(); ++end) {
    bool starts_code_point = (static_cast<unsigned char>(cell[end]) & 0xc0) != 0x80;
    if (starts_code_point && code_points_before++ == Table::kMaxAlignedWidth - 3) break;
  }
  return cell.substr(0, end) + "...";
}

}  // namespace

std::string EscapeText(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    size_t length = 1;
    int32_t code_point = DecodeUtf8(text, pos, length);
    if (code_point < 0) {
      escaped += HexEscape("\\x%02x", static_cast<unsigned char>(text[pos]));
    } else if (!IsUnsafeOnTerminal(code_point)) {
      escaped.append(text.substr(pos, length));
    } else if (code_point == '\n') {
      escaped += "\\n";
    } else if (code_point == '\r') {
      escaped += "\\r";
    } else if (code_point == '\t') {
      escaped += "\\t";
    } else if (code_point < 0x80) {
      escaped += HexEscape("\\x%02x", static_cast<unsigned>(code_point));
    } else {
      escaped += HexEscape("\\u%04x", static_cast<unsigned>(code_point));
    }
    pos += length;
  }
  return escaped;
}

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

void Table::Print(std::ostream& out, bool aligned) const {
  if (!aligned) {
    auto print_line = [&out](const std::vector<std::string>& cells) {
      for (size_t i = 0; i < cells.size(); ++i) {
        if (i > 0) out << '\t';
        out << EscapeText(cells[i]);
      }
      out << '\n';
    };
    print_line(headers_);
    for (const auto& row : rows_) print_line(row);
    return;
  }

  // Aligned: measure each column over the header and every cut cell.
  std::vector<size_t> widths;
  for (const std::string& header : headers_) widths.push_back(CodePoints(header));
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], CodePoints(Cut(EscapeText(row[i]))));
    }
  }
  auto print_padded = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      std::string cell = Cut(EscapeText(cells[i]));
      line += cell;
      if (i + 1 < cells.size()) line += std::string(widths[i] - CodePoints(cell) + 2, ' ');
    }
    out << line << '\n';
  };
  print_padded(headers_);
  for (const auto& row : rows_) print_padded(row);
}

Poco::JSON::Object::Ptr NewJsonObject() {
  return new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
}

void PrintJson(std::ostream& out, const Poco::Dynamic::Var& value) {
  std::ostringstream json;
  Poco::JSON::Stringifier::stringify(value, json, 2);
  out << EscapeJsonOutput(json.str()) << '\n';
}

std::string FormatTimeMs(int64_t unix_ms) {
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &utc);
  return text;
}

std::string FormatAge(int64_t ms) {
  if (ms < 0) {
    // insert() rather than "-" + ..., which GCC 12 flags with a false
    // -Wrestrict warning in Release builds.
    std::string age = FormatAge(-ms);
    return age.insert(0, 1, '-');
  }
  if (ms < 1000) return std::to_string(ms) + "ms";
  int64_t seconds = ms / 1000;
  if (seconds < 60) return std::to_string(seconds) + "s";
  if (seconds < 3600) {
    return std::to_string(seconds / 60) + "m " + std::to_string(seconds % 60) + "s";
  }
  if (seconds < 86400) {
    return std::to_string(seconds / 3600) + "h " + std::to_string(seconds % 3600 / 60) + "m";
  }
  return std::to_string(seconds / 86400) + "d " + std::to_string(seconds % 86400 / 3600) + "h";
}

std::string FormatBytes(int64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = -1;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  return text;
}

std::string FormatCount(int64_t count, std::string_view noun) {
  return std::to_string(count) + " " + std::string(noun) + (count == 1 ? "" : "s");
}

}  // namespace connector::queue_tool
