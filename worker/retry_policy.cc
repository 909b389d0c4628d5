#include "worker/retry_policy.h"

#include <cmath>

namespace connector {

RetryPolicy::RetryPolicy(std::vector<Milliseconds> schedule, double jitter, Random& random)
    : schedule_(std::move(schedule)), jitter_(jitter), random_(random) {}

std::optional<int64_t> RetryPolicy::DelayAfter(int failures) const {
  if (failures < 1 || static_cast<size_t>(failures) > schedule_.size()) return std::nullopt;
  double base = static_cast<double>(schedule_[static_cast<size_t>(failures - 1)].count());
  double factor = 1.0 + jitter_ * (2.0 * random_.Uniform() - 1.0);
  return static_cast<int64_t>(std::llround(base * factor));
}

}  // namespace connector
