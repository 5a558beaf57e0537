// An aggregator's accumulated state as bytes (v1::AggregatorState,
// proto/aggregator_state.proto), so that partial aggregates made in different
// processes merge: a coordinator replica saves its partial per round and
// cluster, the closing replica loads each into a fresh aggregator of the same
// spec and folds it in with MergeWith.
//
// Supported: FedAvgAggregator (its running mean, weight and count), every
// BufferedAggregator (median, trimmed mean, Krum, geometric median, NNM, ...:
// its rows and weights) and NormBoundingAggregator around either. DP-FedAvg is
// kUnimplemented: its noise is drawn once per release, in one process.
#ifndef FEDTINY_AGGREGATION_AGGREGATOR_STATE_H_
#define FEDTINY_AGGREGATION_AGGREGATOR_STATE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "aggregation/aggregator.h"

namespace fedtiny::aggregation {

// The serialized state of `a`. kUnimplemented for methods without one.
absl::StatusOr<std::string> SaveState(const Aggregator& a);

// Loads `bytes` (from SaveState of an aggregator with the same Name() and
// dim()) into `empty`, a fresh aggregator built from the same spec.
// kInvalidArgument for bytes that do not parse, name another method or
// dimension, or hold an update Accumulate would refuse; kFailedPrecondition
// when `empty` already holds updates; kUnimplemented as SaveState. On error
// `empty` is unchanged.
absl::Status LoadState(absl::string_view bytes, Aggregator& empty);

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_AGGREGATOR_STATE_H_
