#include "worker/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace connector {

RateLimiter::RateLimiter(int per_minute, const Clock& clock)
    : clock_(clock),
      configured_interval_ms_(per_minute > 0 ? 60000.0 / per_minute : 0.0),
      interval_ms_(configured_interval_ms_) {}

int64_t RateLimiter::Reserve() {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t now = clock_.NowMs();
  if (window_end_ms_ != 0 && now >= window_end_ms_) {
    // The window the headers described is over: back to the configured pace
    // until the next response sets a new pace.
    interval_ms_ = configured_interval_ms_;
    window_end_ms_ = 0;
  }
  double slot = std::max({static_cast<double>(now), next_slot_ms_,
                          static_cast<double>(blocked_until_ms_)});
  last_slot_ms_ = slot;
  next_slot_ms_ = slot + interval_ms_;
  return static_cast<int64_t>(std::ceil(slot));
}

void RateLimiter::OnHeaders(int64_t remaining, int64_t reset_s) {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t now = clock_.NowMs();
  int64_t reset_ms = reset_s * 1000;
  if (reset_ms <= now) return;
  window_end_ms_ = reset_ms;
  if (remaining <= 0) {
    blocked_until_ms_ = std::max(blocked_until_ms_, reset_ms);
    next_slot_ms_ = std::max(next_slot_ms_, static_cast<double>(reset_ms));
    return;
  }
  double header_interval = static_cast<double>(reset_ms - now) / static_cast<double>(remaining);
  // The configured limit still applies when it is the stricter one.
  interval_ms_ = std::max(header_interval, configured_interval_ms_);
  // The new pace counts from the last slot handed out, not from now: other
  // delivery threads already hold the slots before it, and measuring from
  // now would give the next caller a slot among theirs, so the worker would
  // send up to `concurrency` times faster than the pace.
  next_slot_ms_ = last_slot_ms_ + interval_ms_;
}

void RateLimiter::BlockUntil(int64_t until_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  blocked_until_ms_ = std::max(blocked_until_ms_, until_ms);
  next_slot_ms_ = std::max(next_slot_ms_, static_cast<double>(until_ms));
}

}  // namespace connector
