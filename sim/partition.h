// Splits of a labelled data set over clients.
#ifndef FEDTINY_SIM_PARTITION_H_
#define FEDTINY_SIM_PARTITION_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fedtiny::sim {

using Partition = std::vector<std::vector<int64_t>>;  // Example indices per client.

// Uniformly at random, equal sizes (+-1).
Partition IidSplit(int64_t num_examples, int num_clients, std::mt19937_64& rng);

// Label skew: each class is spread over the clients in proportions drawn from
// Dirichlet(alpha) (as the peer baseline and Hsu et al. 2019). Small alpha: each
// client sees few classes.
Partition DirichletSplit(absl::Span<const int32_t> labels, int num_classes, int num_clients,
                         double alpha, std::mt19937_64& rng);

// McMahan et al. 2017: sort by label, cut into 2 * num_clients shards, give each
// client two shards (so about two classes each).
Partition ShardSplit(absl::Span<const int32_t> labels, int num_clients, std::mt19937_64& rng);

// "iid", "dirichlet" or "shards". kInvalidArgument otherwise.
absl::StatusOr<Partition> MakePartition(const std::string& kind,
                                        absl::Span<const int32_t> labels, int num_classes,
                                        int num_clients, double alpha, std::mt19937_64& rng);

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_PARTITION_H_
