#pragma once

#include <chrono>
#include <cstdint>

namespace connector {

// Wall-clock time in Unix milliseconds. An interface so tests can drive retry
// schedules, leases and retention without sleeping. Implementations must be
// safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace connector
