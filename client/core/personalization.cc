#include "client/core/personalization.h"

#include "tools/base/status_macros.h"

namespace fedtiny::client {

absl::StatusOr<ClusterChoice> PickCluster(const std::vector<Head>& heads,
                                          const RowMatrixXf& features,
                                          absl::Span<const int32_t> labels) {
  if (heads.empty()) return absl::InvalidArgumentError("no cluster heads");
  ClusterChoice choice;
  for (size_t k = 0; k < heads.size(); ++k) {
    ASSIGN_OR_RETURN(Evaluation e, Evaluate(heads[k], features, labels));
    choice.losses.push_back(e.loss);
    if (e.loss < choice.losses[choice.cluster]) choice.cluster = static_cast<int>(k);
  }
  return choice;
}

absl::StatusOr<Head> FineTunePersonalHead(const Head& global, const RowMatrixXf& features,
                                          absl::Span<const int32_t> labels,
                                          const TrainPlan& plan) {
  ASSIGN_OR_RETURN(std::unique_ptr<HeadTrainer> trainer, HeadTrainer::Create(global, plan));
  Head personal = global;
  TrainState state;
  RETURN_IF_ERROR(trainer->Train(personal, features, labels, [] { return true; }, state).status());
  return personal;
}

}  // namespace fedtiny::client
