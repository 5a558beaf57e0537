// What a device accepts from a coordinator. A server's numbers (bundle sizes
// and counts, layer widths, plan fields) are checked here before they size an
// allocation or a loop; an assignment outside these limits is refused with a
// reason the participant reports, never attempted. The ranges are documented in
// docs/protocol.md ("Limits") so that a coordinator can stay inside them.
#ifndef FEDTINY_CLIENT_TRANSPORT_LIMITS_H_
#define FEDTINY_CLIENT_TRANSPORT_LIMITS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/core/head_trainer.h"
#include "client/core/model.h"
#include "proto/federation.pb.h"
#include "proto/plan_ranges.h"

namespace fedtiny::client {

// The device's declared limits, besides SessionOptions::max_bundle_bytes (per
// bundle, enforced by the session) and the plan ranges (CheckPlan and
// PlanRanges in proto/plan_ranges.h, shared with the coordinator).
struct DeviceLimits {
  int max_bundles = 16;  // Cluster heads per assignment.
  // Memory a round may take: the announced bundles before download; then the
  // models, the body's and heads' activations over the device's examples, and
  // the training buffers.
  int64_t max_working_bytes = int64_t{256} << 20;
};

// The trainer's plan for `plan` (which passed CheckPlan) on a device holding
// `examples` examples: a batch larger than the data trains exactly as a batch
// of all of it, so buffers are sized for at most `examples`; the shuffling seed
// comes from the device id and the round, so a resumed round repeats itself.
TrainPlan TrainPlanOf(const v1::Plan& plan, const std::string& device_id, int64_t round,
                      int64_t examples);

// Before any download: kResourceExhausted when the assignment has more bundles
// than `limits.max_bundles`, or announces more bytes in all than
// `limits.max_working_bytes`; kDataLoss for a negative size.
absl::Status CheckBundles(const v1::Assignment& assignment,
                          const DeviceLimits& limits);

// After decoding, before running anything: kResourceExhausted when the round
// would need more than `limits.max_working_bytes` (an upper estimate, from the
// models' widths, `examples` and the batch size). `heads` are validated
// (Head::Validate), each with at least one layer.
absl::Status CheckWorkingSet(const Body& body, const std::vector<Head>& heads,
                             int64_t examples, int64_t batch_size,
                             const DeviceLimits& limits);

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_TRANSPORT_LIMITS_H_
