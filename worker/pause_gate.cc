#include "worker/pause_gate.h"

namespace connector {

PauseGate::PauseGate(int64_t probe_interval_ms, int64_t log_interval_ms, const Clock& clock)
    : probe_interval_ms_(probe_interval_ms), log_interval_ms_(log_interval_ms), clock_(clock) {}

bool PauseGate::IsOpen() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return open_;
}

bool PauseGate::Close(const std::string& cause) {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t now = clock_.NowMs();
  bool was_open = open_;
  open_ = false;
  cause_ = cause;
  next_probe_ms_ = now + probe_interval_ms_;
  if (was_open) next_log_ms_ = now + log_interval_ms_;
  return was_open;
}

bool PauseGate::Open() {
  std::lock_guard<std::mutex> lock(mutex_);
  bool was_closed = !open_;
  open_ = true;
  return was_closed;
}

bool PauseGate::TakeProbe() {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t now = clock_.NowMs();
  if (open_ || now < next_probe_ms_) return false;
  next_probe_ms_ = now + probe_interval_ms_;
  return true;
}

void PauseGate::ReturnProbe() {
  std::lock_guard<std::mutex> lock(mutex_);
  next_probe_ms_ = clock_.NowMs();
}

bool PauseGate::ShouldLogAgain() {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t now = clock_.NowMs();
  if (open_ || now < next_log_ms_) return false;
  next_log_ms_ = now + log_interval_ms_;
  return true;
}

std::string PauseGate::cause() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cause_;
}

}  // namespace connector
