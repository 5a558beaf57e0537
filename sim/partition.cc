#include "sim/partition.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace fedtiny::sim {

Partition IidSplit(int64_t num_examples, int num_clients, std::mt19937_64& rng) {
  std::vector<int64_t> idx(num_examples);
  std::iota(idx.begin(), idx.end(), 0);
  std::shuffle(idx.begin(), idx.end(), rng);
  Partition out(num_clients);
  for (int64_t i = 0; i < num_examples; ++i) out[i % num_clients].push_back(idx[i]);
  return out;
}

Partition DirichletSplit(absl::Span<const int32_t> labels, int num_classes, int num_clients,
                         double alpha, std::mt19937_64& rng) {
  Partition out(num_clients);
  std::gamma_distribution<double> gamma(alpha, 1.0);
  for (int c = 0; c < num_classes; ++c) {
    std::vector<int64_t> idx;
    for (size_t i = 0; i < labels.size(); ++i)
      if (labels[i] == c) idx.push_back(static_cast<int64_t>(i));
    std::shuffle(idx.begin(), idx.end(), rng);
    std::vector<double> share(num_clients);
    double total = 0;
    for (double& s : share) total += (s = gamma(rng));
    // Cut points at the cumulative shares, as numpy.split on cumsum would.
    double cum = 0;
    size_t start = 0;
    for (int k = 0; k < num_clients; ++k) {
      cum += share[k] / total;
      const size_t end = k + 1 == num_clients
                             ? idx.size()
                             : std::min(idx.size(), static_cast<size_t>(cum * idx.size()));
      for (size_t i = start; i < end; ++i) out[k].push_back(idx[i]);
      start = std::max(start, end);
    }
  }
  return out;
}

Partition ShardSplit(absl::Span<const int32_t> labels, int num_clients, std::mt19937_64& rng) {
  std::vector<int64_t> idx(labels.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(),
                   [&](int64_t a, int64_t b) { return labels[a] < labels[b]; });
  const int shards = 2 * num_clients;
  std::vector<int> order(shards);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  Partition out(num_clients);
  const size_t size = labels.size() / shards;
  for (int s = 0; s < shards; ++s) {
    const size_t begin = order[s] * size;
    const size_t end = order[s] + 1 == shards ? labels.size() : begin + size;
    for (size_t i = begin; i < end; ++i) out[s / 2].push_back(idx[i]);
  }
  return out;
}

absl::StatusOr<Partition> MakePartition(const std::string& kind,
                                        absl::Span<const int32_t> labels, int num_classes,
                                        int num_clients, double alpha, std::mt19937_64& rng) {
  if (num_clients < 1) return absl::InvalidArgumentError("partition: need >= 1 client");
  if (kind == "iid") return IidSplit(labels.size(), num_clients, rng);
  if (kind == "dirichlet") {
    if (!(alpha > 0)) return absl::InvalidArgumentError("partition: alpha must be > 0");
    return DirichletSplit(labels, num_classes, num_clients, alpha, rng);
  }
  if (kind == "shards") return ShardSplit(labels, num_clients, rng);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown partition '", kind, "' (iid, dirichlet, shards)"));
}

}  // namespace fedtiny::sim
