#include "common/metrics.h"

#include <algorithm>
#include <cmath>
#include <charconv>
#include <stdexcept>

namespace connector {
namespace {

// Formats a sample value as Prometheus expects: integers without a fraction,
// and NaN / +Inf / -Inf spelled out.
std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // The shortest text that reads back as the same double: 0.0025, not
  // 0.0025000000000000001.
  char buffer[64];
  std::to_chars_result result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

// Escapes a label value: backslash, double quote and line feed.
std::string EscapeLabelValue(const std::string& value) {
  std::string escaped;
  escaped.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '"') {
      escaped += "\\\"";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

// Escapes HELP text: backslash and line feed.
std::string EscapeHelp(const std::string& help) {
  std::string escaped;
  for (char c : help) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

// Returns `{a="x",b="y"}`, with `extra` (such as le="0.5") last, or "" when
// there are no labels at all.
std::string LabelText(const std::vector<std::string>& names, const LabelValues& values,
                      const std::string& extra = "") {
  std::string text;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!text.empty()) text += ',';
    text += names[i] + "=\"" + EscapeLabelValue(values[i]) + "\"";
  }
  if (!extra.empty()) {
    if (!text.empty()) text += ',';
    text += extra;
  }
  return text.empty() ? "" : "{" + text + "}";
}

template <typename Metric>
void AppendHeader(std::string& out, const Family<Metric>& family, const char* type) {
  out += "# HELP " + family.name() + " " + EscapeHelp(family.help()) + "\n";
  out += "# TYPE " + family.name() + " " + type + "\n";
}

void CheckName(const std::string& name) {
  bool valid = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != ':') valid = false;
  }
  if (!valid) throw std::invalid_argument("invalid Prometheus metric name \"" + name + "\"");
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      buckets_(new std::atomic<uint64_t>[upper_bounds_.size() + 1]) {
  std::sort(upper_bounds_.begin(), upper_bounds_.end());
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double value) {
  size_t bucket = static_cast<size_t>(
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin());
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> QueueTimeBuckets() {
  return {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 86400};
}

Family<Counter>& MetricsRegistry::AddCounter(const std::string& name, const std::string& help,
                                             std::vector<std::string> label_names) {
  CheckName(name);
  auto family = std::make_unique<Family<Counter>>(name, help, std::move(label_names),
                                                  [] { return std::make_unique<Counter>(); });
  Family<Counter>* raw = family.get();
  std::lock_guard<std::mutex> lock(mutex_);
  counters_.push_back(std::move(family));
  renderers_.push_back([raw](std::string& out) {
    AppendHeader(out, *raw, "counter");
    raw->ForEach([&](const LabelValues& values, const Counter& counter) {
      out += raw->name() + LabelText(raw->label_names(), values) + " " +
             std::to_string(counter.value()) + "\n";
    });
  });
  return *raw;
}

Family<Gauge>& MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                                         std::vector<std::string> label_names) {
  CheckName(name);
  auto family = std::make_unique<Family<Gauge>>(name, help, std::move(label_names),
                                                [] { return std::make_unique<Gauge>(); });
  Family<Gauge>* raw = family.get();
  std::lock_guard<std::mutex> lock(mutex_);
  gauges_.push_back(std::move(family));
  renderers_.push_back([raw](std::string& out) {
    AppendHeader(out, *raw, "gauge");
    raw->ForEach([&](const LabelValues& values, const Gauge& gauge) {
      out += raw->name() + LabelText(raw->label_names(), values) + " " +
             FormatValue(gauge.value()) + "\n";
    });
  });
  return *raw;
}

Family<Histogram>& MetricsRegistry::AddHistogram(const std::string& name, const std::string& help,
                                                 std::vector<double> upper_bounds,
                                                 std::vector<std::string> label_names) {
  CheckName(name);
  auto family = std::make_unique<Family<Histogram>>(
      name, help, std::move(label_names),
      [upper_bounds] { return std::make_unique<Histogram>(upper_bounds); });
  Family<Histogram>* raw = family.get();
  std::lock_guard<std::mutex> lock(mutex_);
  histograms_.push_back(std::move(family));
  renderers_.push_back([raw](std::string& out) {
    AppendHeader(out, *raw, "histogram");
    raw->ForEach([&](const LabelValues& values, const Histogram& histogram) {
      // Read the buckets first; count is then at least their total, because
      // Observe() adds to the bucket before the count.
      uint64_t cumulative = 0;
      const std::vector<double>& bounds = histogram.upper_bounds();
      for (size_t i = 0; i < bounds.size(); ++i) {
        cumulative += histogram.bucket_count(i);
        out += raw->name() + "_bucket" +
               LabelText(raw->label_names(), values, "le=\"" + FormatValue(bounds[i]) + "\"") +
               " " + std::to_string(cumulative) + "\n";
      }
      cumulative += histogram.bucket_count(bounds.size());
      uint64_t count = std::max(cumulative, histogram.count());
      out += raw->name() + "_bucket" + LabelText(raw->label_names(), values, "le=\"+Inf\"") +
             " " + std::to_string(count) + "\n";
      out += raw->name() + "_sum" + LabelText(raw->label_names(), values) + " " +
             FormatValue(histogram.sum()) + "\n";
      out += raw->name() + "_count" + LabelText(raw->label_names(), values) + " " +
             std::to_string(count) + "\n";
    });
  });
  return *raw;
}

void MetricsRegistry::AddScrapeHook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(mutex_);
  hooks_.push_back(std::move(hook));
}

std::string MetricsRegistry::Render() const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& hook : hooks_) hook();
  std::string out;
  for (const auto& render : renderers_) render(out);
  return out;
}

}  // namespace connector
