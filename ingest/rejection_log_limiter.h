#pragma once

#include <cstdint>
#include <mutex>

namespace connector {

// Limits "rejected" log lines to `max_per_second`, so a client sending bad
// requests in a loop cannot flood the log. The lines it drops are counted and
// reported on the next line it lets through. Thread-safe.
class RejectionLogLimiter {
 public:
  explicit RejectionLogLimiter(int max_per_second) : max_per_second_(max_per_second) {}

  // Returns -1 when the line at `now_ms` must be dropped, otherwise the number
  // of lines dropped since the last one let through.
  int64_t Admit(int64_t now_ms);

 private:
  const int max_per_second_;
  std::mutex mutex_;
  int64_t window_start_ms_ = 0;  // guarded by mutex_
  int used_in_window_ = 0;       // guarded by mutex_
  int64_t dropped_ = 0;          // guarded by mutex_
};

}  // namespace connector
