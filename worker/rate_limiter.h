#pragma once

#include <cstdint>
#include <mutex>

#include "common/clock.h"

namespace connector {

// Paces requests to Intercom. Before any rate-limit header is seen, requests
// are spaced evenly at the configured rate (requests per minute). Once a
// response carries X-RateLimit-Remaining and X-RateLimit-Reset, the requests
// left in the window are spread over the time until the reset. When none are
// left, or after a 429, nothing is sent until the reset. Each caller reserves
// a send time, so concurrent delivery threads get distinct slots.
// Thread-safe; times are Unix milliseconds from the injected clock.
class RateLimiter {
 public:
  // `per_minute` 0 means no client-side limit.
  RateLimiter(int per_minute, const Clock& clock);

  // Reserves the next slot and returns when the caller may send (Unix ms,
  // possibly now or in the past).
  int64_t Reserve();

  // Adjusts the pace from a response's headers. `remaining` and `reset_s` are
  // the X-RateLimit-Remaining and X-RateLimit-Reset values (Unix seconds).
  void OnHeaders(int64_t remaining, int64_t reset_s);

  // Stops all sending until `until_ms` (a 429).
  void BlockUntil(int64_t until_ms);

 private:
  const Clock& clock_;
  const double configured_interval_ms_;  // 0: unlimited
  std::mutex mutex_;
  double interval_ms_;                    // current spacing between slots
  double last_slot_ms_ = 0;               // the latest slot Reserve() returned
  double next_slot_ms_ = 0;
  int64_t window_end_ms_ = 0;             // when the header-derived pace expires
  int64_t blocked_until_ms_ = 0;
};

}  // namespace connector
