#pragma once

#include <mutex>
#include <random>

namespace connector {

// A source of uniform numbers in [0, 1), injected so tests can fix the jitter
// of retry delays. Implementations must be safe to call from any thread.
class Random {
 public:
  virtual ~Random() = default;
  virtual double Uniform() = 0;
};

class SystemRandom final : public Random {
 public:
  SystemRandom() : engine_(std::random_device{}()) {}
  double Uniform() override {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
  }

 private:
  std::mutex mutex_;
  std::mt19937_64 engine_;
};

}  // namespace connector
