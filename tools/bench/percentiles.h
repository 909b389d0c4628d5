#pragma once

#include <vector>

namespace connector::bench {

// Returns the q-quantile (0 <= q <= 1) of `samples` by the nearest-rank
// method, or 0 for no samples. Sorts `samples` in place.
double Quantile(std::vector<double>& samples, double q);

}  // namespace connector::bench
