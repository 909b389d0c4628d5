#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "common/clock.h"

namespace connector {

// Stops delivery for every event while Intercom rejects the token (401, 403,
// token_* codes). While closed, one event at a time is let through as a probe
// every `probe_interval_ms`; the first probe Intercom accepts opens the gate.
// Thread-safe; times are Unix milliseconds from the injected clock.
class PauseGate {
 public:
  PauseGate(int64_t probe_interval_ms, int64_t log_interval_ms, const Clock& clock);

  bool IsOpen() const;

  // Closes the gate (or keeps it closed) and schedules the next probe.
  // Returns true when this call closed an open gate.
  bool Close(const std::string& cause);

  // Opens the gate. Returns true when it was closed.
  bool Open();

  // Returns true to the caller that should send the next probe event: once
  // per probe interval while closed, or again after ReturnProbe().
  bool TakeProbe();

  // Gives back a probe turn that found no event to send, so the next event
  // that becomes due is sent as the probe without waiting another interval.
  void ReturnProbe();

  // Returns true when the paused error should be logged again (at most once
  // per log interval while closed).
  bool ShouldLogAgain();

  std::string cause() const;

 private:
  const int64_t probe_interval_ms_;
  const int64_t log_interval_ms_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  bool open_ = true;
  std::string cause_;
  int64_t next_probe_ms_ = 0;
  int64_t next_log_ms_ = 0;
};

}  // namespace connector
