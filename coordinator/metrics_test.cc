#include "coordinator/metrics.h"

#include <cmath>
#include <limits>
#include <thread>

#include "gtest/gtest.h"

namespace fedtiny::coordinator {
namespace {

TEST(MetricsTest, ExposesATinyRegistryExactly) {
  MetricsRegistry r;
  CounterFamily* uploads = r.AddCounter("ft_uploads_total", "Uploads by reason.", {"reason"});
  GaugeFamily* up = r.AddGauge("ft_up", "1 when\nready \\ serving.");
  HistogramFamily* lat =
      r.AddHistogram("ft_latency_seconds", "Latency.", {"method"}, {0.005, 0.1, 1});
  uploads->With({"late"})->Add(2);
  uploads->With({"bad \"token\"\n\\"})->Add(1);
  up->With({})->Set(1);
  HistogramCell* h = lat->With({"CheckIn"});
  h->Observe(0.001);
  h->Observe(0.005);  // On a bound: counted in that bucket (le is inclusive).
  h->Observe(0.5);
  h->Observe(7);
  EXPECT_EQ(r.Expose(),
            "# HELP ft_uploads_total Uploads by reason.\n"
            "# TYPE ft_uploads_total counter\n"
            "ft_uploads_total{reason=\"bad \\\"token\\\"\\n\\\\\"} 1\n"
            "ft_uploads_total{reason=\"late\"} 2\n"
            "# HELP ft_up 1 when\\nready \\\\ serving.\n"
            "# TYPE ft_up gauge\n"
            "ft_up 1\n"
            "# HELP ft_latency_seconds Latency.\n"
            "# TYPE ft_latency_seconds histogram\n"
            "ft_latency_seconds_bucket{method=\"CheckIn\",le=\"0.005\"} 2\n"
            "ft_latency_seconds_bucket{method=\"CheckIn\",le=\"0.1\"} 2\n"
            "ft_latency_seconds_bucket{method=\"CheckIn\",le=\"1\"} 3\n"
            "ft_latency_seconds_bucket{method=\"CheckIn\",le=\"+Inf\"} 4\n"
            "ft_latency_seconds_sum{method=\"CheckIn\"} 7.506\n"
            "ft_latency_seconds_count{method=\"CheckIn\"} 4\n");
}

TEST(MetricsTest, FamiliesWithoutSamplesKeepTheirHeader) {
  MetricsRegistry r;
  r.AddCounter("ft_none_total", "Nothing yet.", {"task"});
  EXPECT_EQ(r.Expose(), "# HELP ft_none_total Nothing yet.\n# TYPE ft_none_total counter\n");
}

TEST(MetricsTest, ReplaceAllDropsLabelSetsThatAreGone) {
  MetricsRegistry r;
  GaugeFamily* g = r.AddGauge("ft_devices", "Devices.", {"class"});
  g->ReplaceAll({{{"phone"}, 3}, {{"watch"}, 1}, {{"phone"}, 2}});
  EXPECT_EQ(g->With({"phone"})->value(), 5);  // Duplicates add up.
  g->ReplaceAll({{{"watch"}, 4}});
  EXPECT_EQ(r.Expose(),
            "# HELP ft_devices Devices.\n# TYPE ft_devices gauge\nft_devices{class=\"watch\"} 4\n");
}

TEST(MetricsTest, FormatsValuesAsPrometheusReadsThem) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(123456789012), "123456789012");
  EXPECT_EQ(FormatMetricValue(-3), "-3");
  EXPECT_EQ(FormatMetricValue(0.1), "0.1");
  EXPECT_EQ(FormatMetricValue(2.5e-7), "2.5e-07");
  EXPECT_EQ(std::stod(FormatMetricValue(1.0 / 3)), 1.0 / 3);  // Round-trips.
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
}

// Concurrent recording loses nothing: the exposed totals are exact.
TEST(MetricsTest, ConcurrentRecordingIsExact) {
  MetricsRegistry r;
  CounterFamily* c = r.AddCounter("ft_c_total", "C.", {"t"});
  HistogramFamily* h = r.AddHistogram("ft_h", "H.", {}, {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      MetricCell* cell = c->With({t % 2 ? "odd" : "even"});
      for (int i = 0; i < 10000; ++i) {
        cell->Add(1);
        h->With({})->Observe(i % 2 ? 0.5 : 2);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(c->With({"odd"})->value(), 20000);
  EXPECT_EQ(c->With({"even"})->value(), 20000);
  HistogramCell* cell = h->With({});
  EXPECT_EQ(cell->count(), 40000u);
  EXPECT_EQ(cell->Cumulative(), (std::vector<uint64_t>{20000, 40000}));
  EXPECT_EQ(cell->sum(), 20000 * 0.5 + 20000 * 2.0);
}

TEST(MetricsDeathTest, BadNamesAndDuplicatesAbort) {
  MetricsRegistry r;
  r.AddCounter("ft_ok_total", "ok");
  EXPECT_DEATH(r.AddCounter("ft_ok_total", "again"), "added twice");
  EXPECT_DEATH(r.AddGauge("9bad", "x"), "bad metric name");
  EXPECT_DEATH(r.AddGauge("ft_g", "x", {"le-x"}), "bad label name");
  EXPECT_DEATH(r.AddCounter("ft_x_total", "x", {"a"})->With({}), "wrong number of label values");
}

}  // namespace
}  // namespace fedtiny::coordinator
