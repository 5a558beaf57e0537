// Personalization on the device.
//  - IFCA (Ghosh et al. 2020): given the K cluster heads, pick the one with the
//    lowest loss on local data; train it and report its cluster id.
//  - Personal heads, kept on the device and never uploaded (PersonalizeHead):
//    FedRep/FedPer-style fine-tuning of the last layer only, and Ditto's
//    proximal personal objective (Li et al. 2021), each with a smaller learning
//    rate and early stopping on a local validation split; the device keeps
//    whichever of {global, last layer, Ditto} scores best on that split.
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

// How a device personalizes its head. The defaults are the ones measured in
// docs/experiments.md ("Personal heads").
struct PersonalizationPlan {
  int max_epochs = 20;           // Per method; early stopping usually ends sooner.
  int patience = 3;              // Epochs without a better validation score.
  int batch_size = 10;
  float learning_rate = 0.01f;   // Below the federated plan's: a head already good.
  float ditto_lambda = 0.1f;     // Ditto's proximal weight (0: Ditto not tried).
  bool last_layer = true;        // Try fine-tuning the last layer alone (FedRep).
  double validation_fraction = 0.25;  // Of the local examples, never trained on.
  uint64_t seed = 0;             // The split and the shuffles.
};

enum class PersonalMethod { kGlobal, kLastLayer, kDitto };
const char* PersonalMethodName(PersonalMethod m);

// A validation score: accuracy first, loss breaks ties.
struct ValidationScore {
  double accuracy = 0;
  double loss = 0;
  bool BetterThan(const ValidationScore& o) const {
    return accuracy > o.accuracy || (accuracy == o.accuracy && loss < o.loss);
  }
};

struct PersonalHead {
  Head head;
  PersonalMethod method = PersonalMethod::kGlobal;
  ValidationScore global, last_layer, ditto;  // On the validation split.
  int64_t validation_examples = 0;
};

// Splits the local examples (shuffled by plan.seed) into training and
// validation parts, trains each candidate on the training part with early
// stopping on the validation part (the best epoch's weights are kept), and
// returns the candidate that scores best there; the global head wins ties,
// so personalizing never trades a known score for an unknown one. With fewer
// than 2 validation or training examples the global head is returned as is.
// kInvalidArgument for a malformed plan or data that does not fit the head.
StatusOr<PersonalHead> PersonalizeHead(const Head& global, const RowMatrixXf& features,
                                       Span<const int32_t> labels,
                                       const PersonalizationPlan& plan);

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_PERSONALIZATION_H_
