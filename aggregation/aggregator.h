// The aggregator interface, in the shape of federated-compute's aggregators:
// Accumulate() each client's update, ask CanReport(), then Report(); MergeWith()
// combines shards where the method allows it.
//
// An update is a flat float vector of the aggregator's dimension (the trainable
// weights after local training minus the weights the client received).
#ifndef FEDTINY_AGGREGATION_AGGREGATOR_H_
#define FEDTINY_AGGREGATION_AGGREGATOR_H_

#include <cstdint>
#include <string>

#include "Eigen/Core"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace fedtiny::aggregation {

// Who sent an update. Aggregators may ignore it; the per-cluster aggregator
// routes on `cluster_id`.
struct ClientInfo {
  std::string client_id;
  int32_t cluster_id = 0;
};

// Returns kInvalidArgument when `update` does not have `dim` entries, holds a NaN
// or an Inf, or when `weight` is not a finite number > 0.
absl::Status ValidateUpdate(absl::Span<const float> update, int64_t dim,
                            double weight);

// ValidateUpdate without the NaN/Inf scan: kInvalidArgument for a wrong size or
// a weight that is not a finite number > 0. For aggregators that check
// finiteness inside their own single pass over the update (FedAvg).
absl::Status ValidateUpdateShape(absl::Span<const float> update, int64_t dim,
                                 double weight);

// True when no value is a NaN or an Inf. Vectorized: one cheap pass.
bool AllFinite(absl::Span<const float> values);

// Returns kInvalidArgument when `total` + `weight`, an aggregator's total
// weight after accepting one more weight, is not finite. Weights are normalised
// by their total, which must therefore exist.
absl::Status ValidateTotalWeight(double total, double weight);

// Returns kOutOfRange, naming `method` and the first bad coordinate, when
// `aggregate` holds a NaN or an Inf; every Report() checks its result so.
absl::Status ValidateAggregate(const Eigen::VectorXf& aggregate,
                               absl::string_view method);

// Aggregator combines client updates into one. Implementations are not
// thread-safe: one thread at a time (the round engine serializes calls), and
// each aggregator owns the memory it accumulates.
class Aggregator {
 public:
  virtual ~Aggregator() = default;

  // Accumulate adds one client's update with weight `weight` (usually its
  // example count; methods that are not weighted ignore it). Returns
  // kInvalidArgument for a wrong dimension, NaN/Inf, weight <= 0, or a total
  // weight that would no longer be finite, and kFailedPrecondition after too
  // many updates for a bounded buffer; on error nothing changes.
  virtual absl::Status Accumulate(absl::Span<const float> update, double weight,
                                  const ClientInfo& info) = 0;

  // CanReport is true when enough updates arrived for Report() to succeed
  // (e.g. Krum needs n > 2f + 2).
  [[nodiscard]] virtual bool CanReport() const = 0;

  // Report returns the aggregate. kFailedPrecondition when !CanReport();
  // kOutOfRange instead of a vector with a NaN or an Inf (finite updates can
  // still overflow float arithmetic near the float limit). Does not consume
  // what was accumulated: it may be called again.
  virtual absl::StatusOr<Eigen::VectorXf> Report() = 0;

  // MergeWith folds `other` (same method, parameters and dimension) into this
  // aggregator so that Report() equals what one aggregator fed every update
  // would report. kInvalidArgument for a mismatched aggregator or a combined
  // total weight that is not finite; kUnimplemented for methods that cannot
  // merge. On error neither side changes.
  virtual absl::Status MergeWith(Aggregator&& other) = 0;

  // The name of the method with its parameters, e.g. "trimmed_mean(beta=0.1)".
  [[nodiscard]] virtual std::string Name() const = 0;
  [[nodiscard]] virtual int64_t dim() const = 0;
  [[nodiscard]] virtual int64_t num_updates() const = 0;
};

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_AGGREGATOR_H_
