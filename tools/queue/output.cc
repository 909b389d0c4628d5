#include "tools/queue/output.h"

#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <ostream>

namespace connector::queue_tool {
namespace {

std::string Flatten(const std::string& cell) {
  std::string flat = cell;
  std::replace(flat.begin(), flat.end(), '\t', ' ');
  std::replace(flat.begin(), flat.end(), '\n', ' ');
  std::replace(flat.begin(), flat.end(), '\r', ' ');
  return flat;
}

std::string Cut(const std::string& cell) {
  if (cell.size() <= Table::kMaxAlignedWidth) return cell;
  return cell.substr(0, Table::kMaxAlignedWidth - 3) + "...";
}

}  // namespace

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
        out << Flatten(cells[i]);
      }
      out << '\n';
    };
    print_line(headers_);
    for (const auto& row : rows_) print_line(row);
    return;
  }

  // Aligned: measure each column over the header and every cut cell.
  std::vector<size_t> widths;
  for (const std::string& header : headers_) widths.push_back(header.size());
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], Cut(Flatten(row[i])).size());
    }
  }
  auto print_padded = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      std::string cell = Cut(Flatten(cells[i]));
      line += cell;
      if (i + 1 < cells.size()) line += std::string(widths[i] - cell.size() + 2, ' ');
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
  Poco::JSON::Stringifier::stringify(value, out, 2);
  out << '\n';
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

}  // namespace connector::queue_tool
