#include "tests/support/page_limit.h"

#include <sqlite3.h>

#include <atomic>
#include <string>

namespace connector::testing {
namespace {

// The cap for new connections; 0 means none.
std::atomic<int64_t> g_max_pages{0};

// Runs as an automatic extension in every sqlite3_open*() of the process.
int ApplyPageLimit(sqlite3* db, char** /*error*/, const sqlite3_api_routines* /*api*/) {
  int64_t max_pages = g_max_pages.load();
  if (max_pages <= 0) return SQLITE_OK;
  std::string pragma = "PRAGMA max_page_count = " + std::to_string(max_pages);
  return sqlite3_exec(db, pragma.c_str(), nullptr, nullptr, nullptr);
}

// sqlite3_auto_extension() takes the entry point as void (*)(void).
auto EntryPoint() { return reinterpret_cast<void (*)(void)>(&ApplyPageLimit); }

}  // namespace

PageLimit::PageLimit(int64_t max_pages) {
  g_max_pages = max_pages;
  sqlite3_auto_extension(EntryPoint());
}

PageLimit::~PageLimit() { Lift(); }

void PageLimit::Lift() {
  g_max_pages = 0;
  sqlite3_cancel_auto_extension(EntryPoint());
}

}  // namespace connector::testing
