#include "ingest/rejection_log_limiter.h"

namespace connector {

int64_t RejectionLogLimiter::Admit(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (now_ms - window_start_ms_ >= 1000 || now_ms < window_start_ms_) {
    window_start_ms_ = now_ms;
    used_in_window_ = 0;
  }
  if (used_in_window_ >= max_per_second_) {
    ++dropped_;
    return -1;
  }
  ++used_in_window_;
  int64_t dropped = dropped_;
  dropped_ = 0;
  return dropped;
}

}  // namespace connector
