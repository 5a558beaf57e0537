// Aggregators named by a spec string, for configs, the simulator and the CLI.
//
//   spec   := stage ('+' stage)*      pre-aggregation stages first, method last
//   stage  := name (':' key '=' value (',' key '=' value)*)?
//
// Methods: fedavg | median | trimmed_mean:beta=B | krum:f=F | multi_krum:f=F,m=M |
//          geometric_median[:tol=T,iters=I,nu=N] | centered_clipping:tau=T[,iters=L] |
//          bulyan:f=F | dp_fedavg:clip=C,noise=Z[,clients=K]
// Stages:  norm_bound:c=C | nnm:f=F
// Example: "norm_bound:c=10+nnm:f=2+trimmed_mean:beta=0.2"
//
// Counts (f, m, iters) are decimal integers; real values are plain decimal numbers
// (no nan, inf, hex or spaces); every value is range-checked and a key may appear
// once. dp_fedavg (DpFedAvgAggregator: clip to C, sum, add N(0, (Z C)^2) noise,
// divide by K expected clients, or by the updates received when K is absent)
// draws noise, so it needs AggregatorDeps::random, and it may not sit under nnm,
// which would mix one client's update into many rows and void the noise's bound.
//
// Methods and stages live in one table in factory.cc: {name, kind, allowed keys,
// needed dependencies, builder}; adding a method is adding a row.
#ifndef FEDTINY_AGGREGATION_FACTORY_H_
#define FEDTINY_AGGREGATION_FACTORY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "aggregation/nnm.h"
#include "aggregation/random_source.h"

namespace fedtiny::aggregation {

// What builders may need beyond the spec, injected by the caller. A plain value:
// it owns nothing.
struct AggregatorDeps {
  // Noise for dp_fedavg. Not owned: it must outlive every aggregator the factory
  // builds. Aggregators draw from it in Report() only, under the same one-thread-
  // at-a-time rule as every Aggregator call, so a source that is not thread-safe
  // must not be used elsewhere concurrently.
  RandomSource* random = nullptr;
};

// ParseAggregatorSpec parses and validates `spec` and returns a factory that
// builds fresh aggregators of a given dimension. kInvalidArgument naming the bad
// stage, key or value; also when a stage needs a dependency that `deps` lacks
// (dp_fedavg without a RandomSource).
absl::StatusOr<AggregatorFactory> ParseAggregatorSpec(
    absl::string_view spec, const AggregatorDeps& deps = {});

// ValidateAggregatorSpec checks `spec` as ParseAggregatorSpec does, except that
// dependencies are assumed to be supplied later: for validating configs before
// the component that owns them exists. kInvalidArgument as above.
absl::Status ValidateAggregatorSpec(absl::string_view spec);

// MakeAggregator is ParseAggregatorSpec(spec, deps), then one aggregator of
// dimension `dim`.
absl::StatusOr<std::unique_ptr<Aggregator>> MakeAggregator(
    absl::string_view spec, int64_t dim, const AggregatorDeps& deps = {});

// The names of every registered method and stage, in table order.
std::vector<std::string> RegisteredAggregatorNames();

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_FACTORY_H_
