// Example-weighted metric means across replicas: each replica's partial keeps
// per metric the sum of n x value and the sum of n (n = example count) over the
// uploads it accepted; the leader adds the partials and divides. Only the
// task's accepted metrics count (EngineConfig::accepted_metrics), as in the
// round engine, where an upload that omits a metric does not dilute it.
#ifndef FEDTINY_COORDINATOR_REPLICA_METRIC_TALLY_H_
#define FEDTINY_COORDINATOR_REPLICA_METRIC_TALLY_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/round_engine.h"

namespace fedtiny::coordinator::replica {

// A value type; not thread-safe.
class MetricTally {
 public:
  // Parses the two columns of a partial row ("" = empty). kDataLoss when they
  // do not parse.
  static absl::StatusOr<MetricTally> Parse(const std::string& sums, const std::string& weights);

  // Counts `u`'s metrics that are among `accepted`.
  void Add(const Upload& u, const std::vector<std::string>& accepted);
  void Merge(const MetricTally& other);
  // Name -> example-weighted mean.
  std::map<std::string, double> Means() const;
  std::string SerializedSums() const;
  std::string SerializedWeights() const;

 private:
  std::map<std::string, double> sums_;
  std::map<std::string, double> weights_;
};

}  // namespace fedtiny::coordinator::replica

#endif  // FEDTINY_COORDINATOR_REPLICA_METRIC_TALLY_H_
