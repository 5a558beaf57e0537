#include "aggregation/clustering.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace fedtiny::aggregation {

ClusteredAggregator::ClusteredAggregator(int num_clusters, int64_t dim,
                                         AggregatorFactory factory)
    : num_clusters_(num_clusters), dim_(dim), factory_(std::move(factory)) {}

absl::Status ClusteredAggregator::Accumulate(absl::Span<const float> update,
                                             double weight, const ClientInfo& info) {
  if (info.cluster_id < 0 || info.cluster_id >= num_clusters_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cluster id ", info.cluster_id, " outside [0, ", num_clusters_, ")"));
  }
  std::unique_ptr<Aggregator>& agg = per_cluster_[info.cluster_id];
  if (agg == nullptr) agg = factory_(dim_);
  return agg->Accumulate(update, weight, info);
}

absl::StatusOr<std::map<int, Eigen::VectorXf>> ClusteredAggregator::ReportAll() {
  std::map<int, Eigen::VectorXf> out;
  for (auto& [cluster, agg] : per_cluster_) {
    if (!agg->CanReport()) continue;
    absl::StatusOr<Eigen::VectorXf> r = agg->Report();
    if (!r.ok()) {
      return absl::Status(r.status().code(), absl::StrCat("cluster ", cluster, ": ",
                                                          r.status().message()));
    }
    out.emplace(cluster, *std::move(r));
  }
  return out;
}

int64_t ClusteredAggregator::num_updates(int cluster) const {
  auto it = per_cluster_.find(cluster);
  return it == per_cluster_.end() ? 0 : it->second->num_updates();
}

Eigen::MatrixXd CosineSimilarities(const ConstRowMatrixMap& updates) {
  const Eigen::MatrixXd gram = (updates * updates.transpose()).cast<double>();
  const Eigen::VectorXd norms = gram.diagonal().cwiseSqrt();
  Eigen::MatrixXd s(gram.rows(), gram.cols());
  for (int64_t i = 0; i < s.rows(); ++i)
    for (int64_t j = 0; j < s.cols(); ++j)
      s(i, j) = norms[i] > 0 && norms[j] > 0 ? gram(i, j) / (norms[i] * norms[j]) : 0;
  return s;
}

std::vector<int> Bipartition(const Eigen::MatrixXd& similarity) {
  const int n = static_cast<int>(similarity.rows());
  std::vector<std::vector<int>> clusters(n);
  for (int i = 0; i < n; ++i) clusters[i] = {i};
  // Complete linkage: the distance between clusters is the largest cosine
  // distance between their members. Merge the closest pair until two remain.
  auto linkage = [&](const std::vector<int>& a, const std::vector<int>& b) {
    double worst = -std::numeric_limits<double>::infinity();
    for (int i : a)
      for (int j : b) worst = std::max(worst, 1.0 - similarity(i, j));
    return worst;
  };
  while (clusters.size() > 2) {
    size_t best_a = 0, best_b = 1;
    double best = std::numeric_limits<double>::infinity();
    for (size_t a = 0; a < clusters.size(); ++a)
      for (size_t b = a + 1; b < clusters.size(); ++b) {
        const double d = linkage(clusters[a], clusters[b]);
        if (d < best) best = d, best_a = a, best_b = b;
      }
    clusters[best_a].insert(clusters[best_a].end(), clusters[best_b].begin(),
                            clusters[best_b].end());
    clusters.erase(clusters.begin() + best_b);
  }
  std::vector<int> labels(n, 0);
  for (int i : clusters[1]) labels[i] = 1;
  return labels;
}

CflSplit CflDecide(const ConstRowMatrixMap& updates, double eps1, double eps2) {
  CflSplit out;
  out.mean_norm = updates.colwise().mean().norm();
  out.max_norm = updates.rowwise().norm().maxCoeff();
  out.split = updates.rows() >= 2 && out.mean_norm < eps1 && out.max_norm > eps2;
  if (!out.split) return out;
  const Eigen::MatrixXd s = CosineSimilarities(updates);
  out.labels = Bipartition(s);
  out.max_cross_similarity = -1;
  for (int64_t i = 0; i < s.rows(); ++i)
    for (int64_t j = 0; j < s.cols(); ++j)
      if (out.labels[i] != out.labels[j])
        out.max_cross_similarity = std::max(out.max_cross_similarity, s(i, j));
  return out;
}

}  // namespace fedtiny::aggregation
