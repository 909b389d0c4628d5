// MetricsRegistry's Prometheus text output and its thread safety.

#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "tests/ops/ops_helpers.h"

namespace connector {
namespace {

using testing::SampleValue;

TEST(MetricsRegistryTest, RendersCounterWithHelpAndType) {
  MetricsRegistry registry;
  registry.AddCounter("demo_requests_total", "Requests served.").WithLabels({}).Increment(3);
  std::string text = registry.Render();
  EXPECT_NE(text.find("# HELP demo_requests_total Requests served.\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE demo_requests_total counter\n"), std::string::npos);
  EXPECT_EQ(SampleValue(text, "demo_requests_total"), 3.0);
}

TEST(MetricsRegistryTest, LabelValuesAreEscaped) {
  MetricsRegistry registry;
  auto& family = registry.AddCounter("demo_rejected_total", "Rejected.", {"reason"});
  family.WithLabels({"plain"}).Increment();
  family.WithLabels({"a \"quoted\\ value\nline"}).Increment(2);
  std::string text = registry.Render();
  EXPECT_EQ(SampleValue(text, "demo_rejected_total{reason=\"plain\"}"), 1.0);
  EXPECT_EQ(SampleValue(text, "demo_rejected_total{reason=\"a \\\"quoted\\\\ value\\nline\"}"),
            2.0);
}

TEST(MetricsRegistryTest, GaugeRendersFractionsAndNaN) {
  MetricsRegistry registry;
  registry.AddGauge("demo_ratio", "A ratio.").WithLabels({}).Set(0.25);
  registry.AddGauge("demo_unknown", "Not known yet.").WithLabels({}).Set(std::nan(""));
  auto& up_down = registry.AddGauge("demo_in_flight", "In flight.").WithLabels({});
  up_down.Add(2);
  up_down.Add(-1);
  std::string text = registry.Render();
  EXPECT_NE(text.find("demo_ratio 0.25\n"), std::string::npos);
  EXPECT_NE(text.find("demo_unknown NaN\n"), std::string::npos);
  EXPECT_NE(text.find("demo_in_flight 1\n"), std::string::npos);
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulative) {
  MetricsRegistry registry;
  auto& histogram =
      registry.AddHistogram("demo_duration_seconds", "Duration.", {0.1, 1, 10}).WithLabels({});
  for (double value : {0.05, 0.1, 0.5, 2.0, 20.0}) histogram.Observe(value);
  std::string text = registry.Render();
  EXPECT_NE(text.find("# TYPE demo_duration_seconds histogram\n"), std::string::npos);
  // A value equal to a bound falls in that bound's bucket (le = less or equal).
  EXPECT_EQ(SampleValue(text, "demo_duration_seconds_bucket{le=\"0.1\"}"), 2.0);
  EXPECT_EQ(SampleValue(text, "demo_duration_seconds_bucket{le=\"1\"}"), 3.0);
  EXPECT_EQ(SampleValue(text, "demo_duration_seconds_bucket{le=\"10\"}"), 4.0);
  EXPECT_EQ(SampleValue(text, "demo_duration_seconds_bucket{le=\"+Inf\"}"), 5.0);
  EXPECT_EQ(SampleValue(text, "demo_duration_seconds_count"), 5.0);
  EXPECT_NEAR(SampleValue(text, "demo_duration_seconds_sum").value_or(0), 22.65, 1e-9);
}

TEST(MetricsRegistryTest, HistogramLabelsPrecedeLe) {
  MetricsRegistry registry;
  registry.AddHistogram("demo_seconds", "Duration.", {1}, {"route"})
      .WithLabels({"capture"})
      .Observe(0.5);
  std::string text = registry.Render();
  EXPECT_EQ(SampleValue(text, "demo_seconds_bucket{route=\"capture\",le=\"1\"}"), 1.0);
  EXPECT_EQ(SampleValue(text, "demo_seconds_count{route=\"capture\"}"), 1.0);
}

TEST(MetricsRegistryTest, ScrapeHookRunsBeforeRender) {
  MetricsRegistry registry;
  Gauge& depth = registry.AddGauge("demo_depth", "Depth.").WithLabels({});
  int scrapes = 0;
  registry.AddScrapeHook([&] { depth.Set(++scrapes * 10); });
  EXPECT_EQ(SampleValue(registry.Render(), "demo_depth"), 10.0);
  EXPECT_EQ(SampleValue(registry.Render(), "demo_depth"), 20.0);
}

TEST(MetricsRegistryTest, InvalidNameIsRejected) {
  MetricsRegistry registry;
  EXPECT_THROW(registry.AddCounter("bad-name_total", "x"), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("1st", "x"), std::invalid_argument);
}

TEST(MetricsRegistryTest, ConcurrentUpdatesAreAllCounted) {
  MetricsRegistry registry;
  auto& family = registry.AddCounter("demo_total", "Total.", {"thread"});
  auto& histogram = registry.AddHistogram("demo_seconds", "Duration.", {1}).WithLabels({});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Counter& shared = family.WithLabels({"all"});
      for (int i = 0; i < kPerThread; ++i) {
        shared.Increment();
        family.WithLabels({std::to_string(t)}).Increment();
        histogram.Observe(0.5);
        if (i % 1000 == 0) registry.Render();  // scrapes while updating
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::string text = registry.Render();
  EXPECT_EQ(SampleValue(text, "demo_total{thread=\"all\"}"), kThreads * kPerThread);
  EXPECT_EQ(SampleValue(text, "demo_total{thread=\"3\"}"), kPerThread);
  EXPECT_EQ(SampleValue(text, "demo_seconds_count"), kThreads * kPerThread);
  EXPECT_EQ(SampleValue(text, "demo_seconds_sum"), kThreads * kPerThread * 0.5);
}

}  // namespace
}  // namespace connector
