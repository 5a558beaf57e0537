// The plan ranges a device accepts, shared by both sides of the wire: the SDK
// refuses an assignment outside them (client/transport/limits.h) and the
// coordinator refuses a task whose plan is outside them, which would only make
// every device refuse every assignment. Documented in docs/protocol.md
// ("Limits").
#ifndef FEDTINY_PROTO_PLAN_RANGES_H_
#define FEDTINY_PROTO_PLAN_RANGES_H_

#include "absl/status/status.h"
#include "proto/model.pb.h"

namespace fedtiny {

// The ranges (inclusive unless noted). Constants only.
struct PlanRanges {
  static constexpr int kMaxEpochs = 100;         // epochs in [1, 100]
  static constexpr int kMaxBatchSize = 4096;     // batch_size in [1, 4096]
  static constexpr float kMaxLearningRate = 10;  // learning_rate in (0, 10]
  static constexpr float kMaxMomentum = 0.999f;  // momentum in [0, 0.999]
  static constexpr float kMaxProximalMu = 100;   // proximal_mu in [0, 100]
  static constexpr float kMaxClipNorm = 1e6f;  // clip_norm 0 (off) or (0, 1e6]
};

// CheckPlan: kInvalidArgument naming the first field outside PlanRanges (NaN
// and Inf are outside every range), e.g. "plan: epochs 0 is outside [1, 100]".
// Pure, thread-safe.
absl::Status CheckPlan(const v1::Plan& plan);

}  // namespace fedtiny

#endif  // FEDTINY_PROTO_PLAN_RANGES_H_
