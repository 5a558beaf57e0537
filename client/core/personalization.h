// Personalization on the device.
//  - IFCA (Ghosh et al. 2020): given the K cluster heads, pick the one with the
//    lowest loss on local data; train it and report its cluster id.
//  - FedPer-style personal head: a copy of the global head fine-tuned on local
//    data and kept on the device, never uploaded.
#ifndef FEDTINY_CLIENT_CORE_PERSONALIZATION_H_
#define FEDTINY_CLIENT_CORE_PERSONALIZATION_H_

#include <vector>

#include "client/core/status.h"
#include "client/core/head_trainer.h"
#include "client/core/model.h"

namespace fedtiny::client {

struct ClusterChoice {
  int cluster = 0;
  std::vector<double> losses;  // Per head.
};

// kInvalidArgument when `heads` is empty or shapes disagree with the data.
StatusOr<ClusterChoice> PickCluster(const std::vector<Head>& heads,
                                          const RowMatrixXf& features,
                                          Span<const int32_t> labels);

// Returns `global` fine-tuned on the local data with `plan` (not interruptible:
// a personal head is cheap and local).
StatusOr<Head> FineTunePersonalHead(const Head& global, const RowMatrixXf& features,
                                          Span<const int32_t> labels,
                                          const TrainPlan& plan);

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_PERSONALIZATION_H_
