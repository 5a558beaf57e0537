// Aggregators named by a spec string, for configs, the simulator and the CLI.
//
//   spec   := stage ('+' stage)*      pre-aggregation stages first, method last
//   stage  := name (':' key '=' value (',' key '=' value)*)?
//
// Methods: fedavg | median | trimmed_mean:beta=B | krum:f=F | multi_krum:f=F,m=M |
//          geometric_median[:tol=T,iters=I,nu=N] | centered_clipping:tau=T[,iters=L] |
//          bulyan:f=F
// Stages:  norm_bound:c=C | nnm:f=F
// Example: "norm_bound:c=10+nnm:f=2+trimmed_mean:beta=0.2"
#ifndef FEDTINY_AGGREGATION_FACTORY_H_
#define FEDTINY_AGGREGATION_FACTORY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "aggregation/nnm.h"

namespace fedtiny::aggregation {

// Parses and validates `spec`. kInvalidArgument names the bad stage, key or value.
absl::StatusOr<AggregatorFactory> ParseAggregatorSpec(absl::string_view spec);

// ParseAggregatorSpec(spec), then builds one aggregator of dimension `dim`.
absl::StatusOr<std::unique_ptr<Aggregator>> MakeAggregator(
    absl::string_view spec, int64_t dim);

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_FACTORY_H_
