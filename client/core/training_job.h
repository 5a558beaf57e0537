// One round of on-device training that survives interruption: trains while the
// device stays eligible; when it stops being eligible, training stops within one
// batch and a checkpoint (head weights + trainer state) is written atomically;
// the next Run() for the same round resumes bit-exactly; Abandon() drops it.
#ifndef FEDTINY_CLIENT_CORE_TRAINING_JOB_H_
#define FEDTINY_CLIENT_CORE_TRAINING_JOB_H_

#include <string>

#include "client/core/status.h"
#include "client/core/eligibility.h"
#include "client/core/head_trainer.h"
#include "client/core/platform.h"

namespace fedtiny::client {

struct TrainOutcome {
  bool completed = false;   // false: stopped for eligibility, checkpoint written.
  std::string why_stopped;  // The unmet eligibility condition.
  Head head;                // The head as trained so far.
  TrainResult result;
};

// Owns its checkpoint file (kept in the platform's storage); borrows the
// Platform and the DeviceState, which must outlive it. Not thread-safe.
class TrainingJob {
 public:
  TrainingJob(const Platform& platform, std::string checkpoint_path,
              const DeviceState* device, EligibilityPolicy policy = {});

  // Trains `initial` (or resumes from the checkpoint of `round_id`) on the data.
  // A checkpoint of another round is discarded. kDataLoss when the checkpoint is
  // corrupt (call Abandon() to start over), kInvalidArgument for bad shapes,
  // kInternal for I/O errors. Blocks while training.
  StatusOr<TrainOutcome> Run(const std::string& round_id, const Head& initial,
                                   const TrainPlan& plan, const RowMatrixXf& features,
                                   Span<const int32_t> labels);

  // Deletes the checkpoint (the round is given up). OK if there is none.
  Status Abandon();
  bool HasCheckpoint() const;

 private:
  const Platform& platform_;
  const std::string path_;
  const DeviceState* device_;
  const EligibilityPolicy policy_;
};

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_TRAINING_JOB_H_
