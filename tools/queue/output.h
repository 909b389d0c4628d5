#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace connector::queue_tool {

// Rows for a person or a script. On a terminal the columns are padded to line
// up. Otherwise each row is one tab-separated line after a header line, so the
// output pipes into cut, awk or sort.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);

  // REQUIRES: cells.size() equals the number of headers.
  void AddRow(std::vector<std::string> cells);
  size_t RowCount() const { return rows_.size(); }

  // Writes the table. Tabs and newlines inside cells become spaces in both
  // forms; aligned cells longer than kMaxAlignedWidth are cut with "...".
  void Print(std::ostream& out, bool aligned) const;

  static constexpr size_t kMaxAlignedWidth = 60;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// A JSON object that keeps keys in insertion order, so output reads in the
// same order as the table columns.
Poco::JSON::Object::Ptr NewJsonObject();

// Writes `value` as indented JSON followed by a newline.
void PrintJson(std::ostream& out, const Poco::Dynamic::Var& value);

// Formats Unix milliseconds as UTC "YYYY-MM-DD HH:MM:SS", the same text the
// sqlite3 views show.
std::string FormatTimeMs(int64_t unix_ms);

// Formats a duration for people: "850ms", "42s", "5m 12s", "3h 4m", "2d 5h".
std::string FormatAge(int64_t ms);

// Formats a size: "512 B", "1.5 KiB", "20.0 MiB".
std::string FormatBytes(int64_t bytes);

}  // namespace connector::queue_tool
