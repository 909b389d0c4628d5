#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
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

  // Writes the table with every cell passed through EscapeText, so a tab or
  // newline in a cell cannot break a row. Aligned cells longer than
  // kMaxAlignedWidth characters are cut with "...".
  void Print(std::ostream& out, bool aligned) const;

  static constexpr size_t kMaxAlignedWidth = 60;  // code points

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// Returns `text` safe to write to a terminal: valid UTF-8 stays as it is,
// except characters that move the cursor, start an escape sequence or reorder
// text. \n, \r and \t become those two characters. Other C0 controls, DEL
// and bytes that are not valid UTF-8 become \xHH. C1 controls, U+2028,
// U+2029 and the bidirectional controls U+202A..U+202E and U+2066..U+2069
// become \uHHHH. Client data (event names, distinct_ids, Intercom's error
// messages) goes through it before it reaches any human-readable output.
std::string EscapeText(std::string_view text);

// A JSON object that keeps keys in insertion order, so output reads in the
// same order as the table columns.
Poco::JSON::Object::Ptr NewJsonObject();

// Writes `value` as indented JSON followed by a newline. Poco escapes C0
// controls; DEL, C1 controls and the characters EscapeText turns into \uHHHH
// are escaped here too, and bytes that are not valid UTF-8 become \uFFFD, so
// the output is valid UTF-8 JSON that is safe on a terminal.
void PrintJson(std::ostream& out, const Poco::Dynamic::Var& value);

// Formats Unix milliseconds as UTC "YYYY-MM-DD HH:MM:SS", the same text the
// sqlite3 views show.
std::string FormatTimeMs(int64_t unix_ms);

// Formats a duration for people: "850ms", "42s", "5m 12s", "3h 4m", "2d 5h".
std::string FormatAge(int64_t ms);

// Formats a size: "512 B", "1.5 KiB", "20.0 MiB".
std::string FormatBytes(int64_t bytes);

// Formats a count with a noun that takes a plain "s" in the plural:
// "1 event", "0 events", "2 events".
std::string FormatCount(int64_t count, std::string_view noun);

}  // namespace connector::queue_tool
