#pragma once

#include <cstdint>

namespace connector::testing {

// Caps every SQLite connection that the process opens while the object lives
// at `max_pages` pages (PRAGMA max_page_count), so SQLite fails each write
// that would grow the file with SQLITE_FULL, as it does on a full disk. A
// cap below the file's current size acts as that size: the file cannot grow.
//
// PRAGMA max_page_count is a setting of one connection, not stored in the
// file, so the cap is applied to each new connection through
// sqlite3_auto_extension(). Connections opened before the object, or after
// Lift(), have no cap; connections opened meanwhile keep it until closed.
// One object at a time per process.
class PageLimit {
 public:
  explicit PageLimit(int64_t max_pages);
  ~PageLimit();
  PageLimit(const PageLimit&) = delete;
  PageLimit& operator=(const PageLimit&) = delete;

  // Stops capping connections opened from now on: the space returns.
  void Lift();
};

}  // namespace connector::testing
