// Model-poisoning attacks, for tests and the simulator. Omniscient attackers see
// the honest updates of the round (the strongest threat model the robust methods
// are analysed against). Most attacks take the form mean + tau * direction:
//   sign_flip:   direction -mean, tau 2        -> -mean
//   ipm:         direction -mean (Xie et al. 2019; tau = epsilon + 1)
//   alie:        direction +std (sample std, ddof 1; Baruch et al. 2019)
//   gaussian:    N(mean, sigma^2) per coordinate
//   scaling:     the attacker's own update times tau (model replacement)
//   min_max / min_sum (Shejwalkar & Houmansadr 2021): mean + gamma * (-std), with
//     the largest gamma whose update stays within the honest updates' largest
//     pairwise distance (min-max) or sum of squared distances (min-sum).
#ifndef FEDTINY_AGGREGATION_ATTACKS_H_
#define FEDTINY_AGGREGATION_ATTACKS_H_

#include <string>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "aggregation/buffered_aggregator.h"
#include "aggregation/random_source.h"

namespace fedtiny::aggregation {

struct AttackConfig {
  enum class Kind { kSignFlip, kIpm, kAlie, kGaussian, kScaling, kMinMax, kMinSum };
  Kind kind = Kind::kSignFlip;
  double tau = 1.0;  // Strength; meaning per kind (see above). sigma for gaussian.
};

// "sign_flip", "ipm:tau=3", "alie:tau=1.5", "gaussian:tau=1", "scaling:tau=10",
// "min_max", "min_sum". kInvalidArgument otherwise.
absl::StatusOr<AttackConfig> ParseAttack(absl::string_view spec);

// The malicious update. `honest` holds the round's honest updates (n >= 2 for
// alie, min_max and min_sum); `own` is the attacker's honest update (used by
// scaling). kInvalidArgument when the inputs do not fit.
absl::StatusOr<Eigen::VectorXf> CraftAttack(const AttackConfig& config,
                                            const ConstRowMatrixMap& honest,
                                            const Eigen::VectorXf& own,
                                            RandomSource& random);

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_ATTACKS_H_
