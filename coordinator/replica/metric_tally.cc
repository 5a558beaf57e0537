#include "coordinator/replica/metric_tally.h"

#include <algorithm>

#include "proto/admin.pb.h"

namespace fedtiny::coordinator::replica {

namespace {

// A ClusterRound's metrics map carries one column's name -> value pairs.
bool ParseMap(const std::string& bytes, std::map<std::string, double>& out) {
  v1::ClusterRound m;
  if (!m.ParseFromString(bytes)) return false;
  out.insert(m.metrics().begin(), m.metrics().end());
  return true;
}

std::string Serialize(const std::map<std::string, double>& values) {
  v1::ClusterRound m;
  m.mutable_metrics()->insert(values.begin(), values.end());
  return m.SerializeAsString();
}

}  // namespace

absl::StatusOr<MetricTally> MetricTally::Parse(const std::string& sums, const std::string& weights) {
  MetricTally t;
  if (!ParseMap(sums, t.sums_) || !ParseMap(weights, t.weights_)) {
    return absl::DataLossError("a partial's metric columns do not parse");
  }
  return t;
}

void MetricTally::Add(const Upload& u, const std::vector<std::string>& accepted) {
  const double n = static_cast<double>(u.example_count);
  for (const auto& [name, value] : u.metrics) {
    if (std::find(accepted.begin(), accepted.end(), name) == accepted.end()) continue;
    sums_[name] += n * value;
    weights_[name] += n;
  }
}

void MetricTally::Merge(const MetricTally& other) {
  for (const auto& [name, v] : other.sums_) sums_[name] += v;
  for (const auto& [name, v] : other.weights_) weights_[name] += v;
}

std::map<std::string, double> MetricTally::Means() const {
  std::map<std::string, double> out;
  for (const auto& [name, sum] : sums_) {
    auto w = weights_.find(name);
    if (w != weights_.end() && w->second > 0) out[name] = sum / w->second;
  }
  return out;
}

std::string MetricTally::SerializedSums() const { return Serialize(sums_); }
std::string MetricTally::SerializedWeights() const { return Serialize(weights_); }

}  // namespace fedtiny::coordinator::replica
