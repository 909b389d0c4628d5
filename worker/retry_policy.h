#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/config.h"
#include "worker/random.h"

namespace connector {

// Chooses the delay before the next attempt from a schedule of durations,
// scaled by a random factor in [1 - jitter, 1 + jitter] so that events that
// failed together do not all come back in the same instant. Thread-safe when
// `random` is.
class RetryPolicy {
 public:
  RetryPolicy(std::vector<Milliseconds> schedule, double jitter, Random& random);

  // Returns the delay in milliseconds after failure number `failures` (1 for
  // the first), or nullopt when the schedule is used up and the event fails.
  std::optional<int64_t> DelayAfter(int failures) const;

  size_t size() const { return schedule_.size(); }

 private:
  std::vector<Milliseconds> schedule_;
  double jitter_;
  Random& random_;
};

}  // namespace connector
