#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace connector {

// A monotonically increasing count. Lock-free; safe from any thread.
class Counter {
 public:
  void Increment(uint64_t by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down. Lock-free; safe from any thread.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Counts observations into cumulative buckets, as Prometheus histograms do.
// Bucket bounds are fixed at construction and sorted ascending; +Inf is
// implicit. Observe() is lock-free; a scrape that runs concurrently may see a
// sum and a count that differ by the observations in progress.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);

  void Observe(double value);

  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  // Observations at or below upper_bounds()[i] (not cumulative).
  uint64_t bucket_count(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // one per bound, then +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

// Bucket bounds in seconds from 1 ms to 10 s, for HTTP requests and commits.
std::vector<double> LatencyBuckets();

// Bucket bounds in seconds from 10 ms to 1 day, for time spent in the queue.
std::vector<double> QueueTimeBuckets();

// The label values of one series, in the order of the family's label names.
using LabelValues = std::vector<std::string>;

// All series of one metric name. WithLabels() takes a mutex, so hot paths
// keep the returned reference, which stays valid as long as the family.
template <typename Metric>
class Family {
 public:
  using Factory = std::function<std::unique_ptr<Metric>()>;

  Family(std::string name, std::string help, std::vector<std::string> label_names,
         Factory factory)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        factory_(std::move(factory)) {}

  // Returns the series for `values` (one per label name), creating it at zero.
  Metric& WithLabels(const LabelValues& values) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::unique_ptr<Metric>& metric = series_[values];
    if (!metric) metric = factory_();
    return *metric;
  }

  // Calls `visit` for each series in label order, under the family's mutex.
  void ForEach(const std::function<void(const LabelValues&, const Metric&)>& visit) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [values, metric] : series_) visit(values, *metric);
  }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const Factory factory_;
  mutable std::mutex mutex_;
  std::map<LabelValues, std::unique_ptr<Metric>> series_;  // guarded by mutex_
};

// The metrics of one process, rendered in the Prometheus text exposition
// format (version 0.0.4). Families are registered at start-up and live as
// long as the registry. Registration, Render() and scrape hooks are
// thread-safe; updates to a metric never take the registry's mutex.
class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Each Add* returns the family for `name`. `name` must follow Prometheus
  // naming (counters end in _total, units are base units such as _seconds).
  Family<Counter>& AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<double> upper_bounds,
                                  std::vector<std::string> label_names = {});

  // Runs `hook` at the start of every Render(), on the scraping thread, so it
  // can set gauges that are computed on demand (such as queue depth).
  void AddScrapeHook(std::function<void()> hook);

  // Runs the scrape hooks and returns every family as exposition text.
  std::string Render() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Family<Counter>>> counters_;     // guarded by mutex_
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_;         // guarded by mutex_
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_; // guarded by mutex_
  // Appends one family's text; in registration order, so the output is stable.
  std::vector<std::function<void(std::string&)>> renderers_;   // guarded by mutex_
  std::vector<std::function<void()>> hooks_;                   // guarded by mutex_
};

// The Content-Type of Render()'s output.
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace connector
