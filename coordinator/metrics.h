// A small metrics registry with the Prometheus text exposition format (0.0.4):
// counters, gauges and histograms in labelled families. Debian has no
// prometheus-cpp, and the coordinator needs only this much.
//
// The hot path is one atomic add on a cell the caller looked up once (With());
// looking a cell up takes the family's lock for a map search.
#ifndef FEDTINY_COORDINATOR_METRICS_H_
#define FEDTINY_COORDINATOR_METRICS_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace fedtiny::coordinator {

// One number that only goes up (counter) or is set (gauge). Thread-safe.
class MetricCell {
 public:
  void Add(double delta);
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  [[nodiscard]] double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, ascending), with
// their sum and count. Thread-safe; Observe is lock-free.
class HistogramCell {
 public:
  explicit HistogramCell(const std::vector<double>* bounds);
  void Observe(double value);
  // Cumulative count per bound, then +Inf (== count()).
  [[nodiscard]] std::vector<uint64_t> Cumulative() const;
  [[nodiscard]] double sum() const { return sum_.load(std::memory_order_relaxed); }
  [[nodiscard]] uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double>* const bounds_;  // Owned by the family.
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

using LabelValues = std::vector<std::string>;

// A metric name with its label names and one cell per label-value tuple.
// Thread-safe. Cells live as long as the family (pointers from With() stay
// valid), except after ReplaceAll, which is meant for gauges computed at scrape
// time and never cached.
template <typename Cell>
class MetricFamily {
 public:
  // `make` creates a cell at zero.
  MetricFamily(std::string name, std::string help, std::vector<std::string> labels,
               std::function<std::unique_ptr<Cell>()> make)
      : name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)),
        make_(std::move(make)) {}

  // The cell for `values` (as many as label names), created at zero.
  Cell* With(const LabelValues& values) ABSL_LOCKS_EXCLUDED(mu_);

  // Replaces every cell with `values` (gauges: a snapshot computed at scrape
  // time). MetricCell families only.
  void ReplaceAll(const std::vector<std::pair<LabelValues, double>>& values)
      ABSL_LOCKS_EXCLUDED(mu_);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& labels() const { return labels_; }
  // Calls `f(values, cell)` for every cell in label order, under the lock.
  template <typename F>
  void ForEach(F f) const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    for (const auto& [values, cell] : cells_) f(values, *cell);
  }

 private:
  const std::string name_, help_;
  const std::vector<std::string> labels_;
  const std::function<std::unique_ptr<Cell>()> make_;
  mutable absl::Mutex mu_;
  std::map<LabelValues, std::unique_ptr<Cell>> cells_ ABSL_GUARDED_BY(mu_);
};

using CounterFamily = MetricFamily<MetricCell>;
using GaugeFamily = MetricFamily<MetricCell>;
using HistogramFamily = MetricFamily<HistogramCell>;

// Owns metric families and writes them out. Thread-safe. Families are added at
// set-up and live as long as the registry; names must be unique and valid
// Prometheus names (checked: a bad one is a programming error and aborts).
class MetricsRegistry {
 public:
  CounterFamily* AddCounter(const std::string& name, const std::string& help,
                            std::vector<std::string> labels = {});
  GaugeFamily* AddGauge(const std::string& name, const std::string& help,
                        std::vector<std::string> labels = {});
  // `bounds`: ascending bucket upper bounds, +Inf implied.
  HistogramFamily* AddHistogram(const std::string& name, const std::string& help,
                                std::vector<std::string> labels, std::vector<double> bounds);

  // Every family, in the order added, in the text exposition format 0.0.4.
  [[nodiscard]] std::string Expose() const;

  // Content-Type of Expose()'s output.
  static constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Entry {
    const char* type;  // "counter", "gauge", "histogram"
    std::unique_ptr<MetricFamily<MetricCell>> scalar;  // Or:
    std::unique_ptr<std::vector<double>> bounds;
    std::unique_ptr<HistogramFamily> histogram;
  };
  void CheckName(const std::string& name, const std::vector<std::string>& labels) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<Entry> families_ ABSL_GUARDED_BY(mu_);
};

// Formats a sample value as Prometheus does: integers without exponent,
// otherwise the shortest text that reads back to the same double; "+Inf",
// "-Inf", "NaN".
std::string FormatMetricValue(double v);
// Escapes a label value (backslash, double quote, newline).
std::string EscapeLabelValue(const std::string& v);

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_METRICS_H_
