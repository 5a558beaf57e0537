#include "coordinator/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "tools/base/logging.h"

namespace fedtiny::coordinator {

// A failed check is a programming error (a bad name, a wrong label count): abort.
#define METRICS_CHECK(cond) \
  if (!(cond)) FT_LOG(FATAL) << "metrics: "

namespace {

void AtomicAdd(std::atomic<double>& a, double delta) {
  double old = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(old, old + delta, std::memory_order_relaxed)) {
  }
}

bool ValidName(const std::string& name, bool allow_colon) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (allow_colon && c == ':');
  });
}

// `{a="x",b="y"}`, or "" without labels; `extra` is appended pre-escaped (le).
std::string LabelText(const std::vector<std::string>& names, const LabelValues& values,
                      const std::string& extra = "") {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    absl::StrAppend(&out, out.empty() ? "" : ",", names[i], "=\"", EscapeLabelValue(values[i]),
                    "\"");
  }
  if (!extra.empty()) absl::StrAppend(&out, out.empty() ? "" : ",", extra);
  return out.empty() ? "" : absl::StrCat("{", out, "}");
}

std::string EscapeHelp(const std::string& help) {
  return absl::StrReplaceAll(help, {{"\\", "\\\\"}, {"\n", "\\n"}});
}

void WriteHeader(std::string* out, const std::string& name, const std::string& help,
                 const char* type) {
  absl::StrAppend(out, "# HELP ", name, " ", EscapeHelp(help), "\n# TYPE ", name, " ", type, "\n");
}

void WriteScalar(std::string* out, const MetricFamily<MetricCell>& f) {
  f.ForEach([&](const LabelValues& v, const MetricCell& c) {
    absl::StrAppend(out, f.name(), LabelText(f.labels(), v), " ", FormatMetricValue(c.value()),
                    "\n");
  });
}

void WriteHistogram(std::string* out, const HistogramFamily& f,
                    const std::vector<double>& bounds) {
  f.ForEach([&](const LabelValues& v, const HistogramCell& c) {
    const std::vector<uint64_t> cumulative = c.Cumulative();
    for (size_t i = 0; i <= bounds.size(); ++i) {
      const std::string le = i < bounds.size() ? FormatMetricValue(bounds[i]) : "+Inf";
      absl::StrAppend(out, f.name(), "_bucket", LabelText(f.labels(), v, "le=\"" + le + "\""),
                      " ", cumulative[i], "\n");
    }
    absl::StrAppend(out, f.name(), "_sum", LabelText(f.labels(), v), " ",
                    FormatMetricValue(c.sum()), "\n");
    absl::StrAppend(out, f.name(), "_count", LabelText(f.labels(), v), " ", cumulative.back(),
                    "\n");
  });
}

}  // namespace

void MetricCell::Add(double delta) { AtomicAdd(value_, delta); }

HistogramCell::HistogramCell(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) buckets_[i].store(0);
}

void HistogramCell::Observe(double value) {
  const size_t i =
      std::lower_bound(bounds_->begin(), bounds_->end(), value) - bounds_->begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, value);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> HistogramCell::Cumulative() const {
  // Summed from the buckets (not count_), so that +Inf always equals the sum of
  // the buckets even while another thread observes.
  std::vector<uint64_t> out(bounds_->size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

template <typename Cell>
Cell* MetricFamily<Cell>::With(const LabelValues& values) {
  METRICS_CHECK(values.size() == labels_.size()) << name_ << ": wrong number of label values";
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Cell>& cell = cells_[values];
  if (cell == nullptr) cell = make_();
  return cell.get();
}

template <typename Cell>
void MetricFamily<Cell>::ReplaceAll(const std::vector<std::pair<LabelValues, double>>& values) {
  std::map<LabelValues, std::unique_ptr<Cell>> fresh;
  for (const auto& [labels, v] : values) {
    METRICS_CHECK(labels.size() == labels_.size()) << name_ << ": wrong number of label values";
    std::unique_ptr<Cell>& cell = fresh[labels];
    if (cell == nullptr) cell = make_();
    cell->Set(cell->value() + v);
  }
  absl::MutexLock lock(&mu_);
  cells_.swap(fresh);
}

template MetricCell* MetricFamily<MetricCell>::With(const LabelValues&);
template HistogramCell* MetricFamily<HistogramCell>::With(const LabelValues&);
template void MetricFamily<MetricCell>::ReplaceAll(
    const std::vector<std::pair<LabelValues, double>>&);

void MetricsRegistry::CheckName(const std::string& name,
                                const std::vector<std::string>& labels) const {
  METRICS_CHECK(ValidName(name, true)) << "bad metric name '" << name << "'";
  for (const std::string& l : labels) {
    METRICS_CHECK(ValidName(l, false) && l.rfind("__", 0) != 0 && l != "le")
        << name << ": bad label name '" << l << "'";
  }
  for (const Entry& e : families_) {
    const std::string& other = e.scalar ? e.scalar->name() : e.histogram->name();
    METRICS_CHECK(other != name) << "metric '" << name << "' added twice";
  }
}

CounterFamily* MetricsRegistry::AddCounter(const std::string& name, const std::string& help,
                                           std::vector<std::string> labels) {
  absl::MutexLock lock(&mu_);
  CheckName(name, labels);
  auto f = std::make_unique<CounterFamily>(name, help, std::move(labels),
                                           [] { return std::make_unique<MetricCell>(); });
  families_.push_back(Entry{"counter", std::move(f), nullptr, nullptr});
  return families_.back().scalar.get();
}

GaugeFamily* MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                                       std::vector<std::string> labels) {
  absl::MutexLock lock(&mu_);
  CheckName(name, labels);
  auto f = std::make_unique<GaugeFamily>(name, help, std::move(labels),
                                         [] { return std::make_unique<MetricCell>(); });
  families_.push_back(Entry{"gauge", std::move(f), nullptr, nullptr});
  return families_.back().scalar.get();
}

HistogramFamily* MetricsRegistry::AddHistogram(const std::string& name, const std::string& help,
                                               std::vector<std::string> labels,
                                               std::vector<double> bounds) {
  METRICS_CHECK(std::is_sorted(bounds.begin(), bounds.end()) &&
           std::adjacent_find(bounds.begin(), bounds.end()) == bounds.end())
      << name << ": bucket bounds must ascend";
  absl::MutexLock lock(&mu_);
  CheckName(name, labels);
  auto b = std::make_unique<std::vector<double>>(std::move(bounds));
  const std::vector<double>* raw = b.get();
  auto f = std::make_unique<HistogramFamily>(
      name, help, std::move(labels), [raw] { return std::make_unique<HistogramCell>(raw); });
  families_.push_back(Entry{"histogram", nullptr, std::move(b), std::move(f)});
  return families_.back().histogram.get();
}

std::string MetricsRegistry::Expose() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const Entry& e : families_) {
    if (e.scalar) {
      WriteHeader(&out, e.scalar->name(), e.scalar->help(), e.type);
      WriteScalar(&out, *e.scalar);
    } else {
      WriteHeader(&out, e.histogram->name(), e.histogram->help(), e.type);
      WriteHistogram(&out, *e.histogram, *e.bounds);
    }
  }
  return out;
}

std::string FormatMetricValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string EscapeLabelValue(const std::string& v) {
  return absl::StrReplaceAll(v, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
}

}  // namespace fedtiny::coordinator
