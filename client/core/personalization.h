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
  int folds = 4;                 // Cross-validation folds over the local examples.
  // Examples a personal head must get right beyond the global head's, pooled
  // over the folds, to replace it (more than this many, net).
  int min_gain_examples = 2;
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
  // Better on both counts: what a personal head needs to replace the global
  // one (a lower loss alone, on a few examples, is mostly the early stopping
  // having picked its epoch on those same examples).
  bool Dominates(const ValidationScore& o, double margin = 0) const {
    return accuracy > o.accuracy + margin && loss < o.loss;
  }
};

struct PersonalHead {
  Head head;
  PersonalMethod method = PersonalMethod::kGlobal;
  // Cross-validated scores (pooled over the folds' held-out examples) and
  // the epochs early stopping chose for each candidate.
  ValidationScore global, last_layer, ditto;
  int last_layer_epochs = 0, ditto_epochs = 0;
  int64_t validation_examples = 0;  // Examples scored (all, once each); 0: too few.
};

// Chooses the device's head by k-fold cross-validation on its examples
// (shuffled by plan.seed): for each candidate, every fold trains from the
// global head an epoch at a time and is scored on its held-out part; the
// epoch count with the best pooled score is the candidate's (early stopping
// on local splits, over every example rather than one small split). A
// candidate replaces the global head only when it dominates it (higher
// pooled accuracy and lower loss), then it is trained that many epochs on all
// the examples. Fewer than 2 x folds examples: the global head as is.
// kInvalidArgument for a malformed plan or data that does not fit the head.
// Cost: about folds x 2 x (chosen epochs + patience) epochs of local training.
StatusOr<PersonalHead> PersonalizeHead(const Head& global, const RowMatrixXf& features,
                                       Span<const int32_t> labels,
                                       const PersonalizationPlan& plan);

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_PERSONALIZATION_H_
