#include "client/core/personalization.h"

#include "client/core/status.h"

namespace fedtiny::client {

StatusOr<ClusterChoice> PickCluster(const std::vector<Head>& heads,
                                          const RowMatrixXf& features,
                                          Span<const int32_t> labels) {
  if (heads.empty()) return InvalidArgumentError("no cluster heads");
  ClusterChoice choice;
  for (size_t k = 0; k < heads.size(); ++k) {
    CLIENT_ASSIGN_OR_RETURN(Evaluation e, Evaluate(heads[k], features, labels));
    choice.losses.push_back(e.loss);
    if (e.loss < choice.losses[choice.cluster]) choice.cluster = static_cast<int>(k);
  }
  return choice;
}

StatusOr<Head> FineTunePersonalHead(const Head& global, const RowMatrixXf& features,
                                          Span<const int32_t> labels,
                                          const TrainPlan& plan) {
  CLIENT_ASSIGN_OR_RETURN(std::unique_ptr<HeadTrainer> trainer, HeadTrainer::Create(global, plan));
  Head personal = global;
  TrainState state;
  CLIENT_RETURN_IF_ERROR(trainer->Train(personal, features, labels, [] { return true; }, state).status());
  return personal;
}

}  // namespace fedtiny::client
