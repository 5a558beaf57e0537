// Personalization per cluster.
//  - ClusteredAggregator: K independent aggregators of the task's method, keyed by
//    the cluster id each client reports (IFCA-style: clients pick their cluster).
//  - CFL (Sattler, Muller & Samek 2020), for tasks where clients do not pick: when
//    the mean update is small (near a stationary point of the joint objective) but
//    some client updates are still large, split the clients in two by the cosine
//    similarity of their updates.
#ifndef FEDTINY_AGGREGATION_CLUSTERING_H_
#define FEDTINY_AGGREGATION_CLUSTERING_H_

#include <map>
#include <memory>
#include <vector>

#include "aggregation/buffered_aggregator.h"
#include "aggregation/nnm.h"

namespace fedtiny::aggregation {

// ClusteredAggregator owns one aggregator per cluster, created on first use by
// the factory it owns. Not thread-safe: one thread at a time, as Aggregator.
class ClusteredAggregator {
 public:
  ClusteredAggregator(int num_clusters, int64_t dim, AggregatorFactory factory);

  // Routes to the aggregator of info.cluster_id. kInvalidArgument for a cluster
  // id outside [0, num_clusters) or a bad update (as Aggregator::Accumulate).
  absl::Status Accumulate(absl::Span<const float> update, double weight,
                          const ClientInfo& info);
  // ReportAll returns the aggregate of every cluster that can report; clusters
  // without enough updates are absent (their head stays as it was). When a
  // cluster that can report fails to, returns that error (same code) with
  // "cluster K: " in front, and no partial result: callers must not commit
  // some clusters of a round and silently skip another.
  absl::StatusOr<std::map<int, Eigen::VectorXf>> ReportAll();
  int64_t num_updates(int cluster) const;
  int num_clusters() const { return num_clusters_; }

 private:
  const int num_clusters_;
  const int64_t dim_;
  AggregatorFactory factory_;
  std::map<int, std::unique_ptr<Aggregator>> per_cluster_;
};

struct CflSplit {
  bool split = false;         // Whether the criterion says to split.
  double mean_norm = 0;       // ||mean update||
  double max_norm = 0;        // max_i ||update_i||
  std::vector<int> labels;    // 0 or 1 per update (set when split).
  double max_cross_similarity = 0;  // Largest cosine similarity across the cut.
};

// Cosine similarities between the rows of `updates` (n x n; zero rows give 0).
Eigen::MatrixXd CosineSimilarities(const ConstRowMatrixMap& updates);

// Two groups by complete-linkage agglomerative clustering on cosine distance (the
// bipartition used by Sattler et al.). Requires n >= 2.
std::vector<int> Bipartition(const Eigen::MatrixXd& similarity);

// The CFL criterion: split when mean_norm < eps1 and max_norm > eps2.
CflSplit CflDecide(const ConstRowMatrixMap& updates, double eps1, double eps2);

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_CLUSTERING_H_
