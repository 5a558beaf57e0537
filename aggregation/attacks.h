// Model-poisoning attacks, for tests and the simulator. Omniscient attackers see
// the honest updates of the round (the strongest threat model the robust methods
// are analysed against). Most attacks take the form mean + tau * direction:
//   sign_flip:   direction -mean, tau 2        -> -mean
//   ipm:         direction -mean (Xie et al. 2019; tau = epsilon + 1)
//   alie:        direction +std (sample std, ddof 1; Baruch et al. 2019); a bare
//                "alie" takes the paper's z_max for the round's (n, f) (ForRound)
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
  // Bare "alie": tau is the z_max of the round's (n, f), set by ForRound.
  bool tau_from_round = false;
};

// ALIE's z_max (Baruch et al. 2019, Algorithm 3): with n updates of which f
// are malicious, s = floor(n / 2 + 1) - f honest updates must be won over,
// and z_max = Phi^-1((n - s) / n). kInvalidArgument unless 0 <= f < n; 0
// when s >= n (no room).
absl::StatusOr<double> AlieZMax(int n, int f);

// `config` for a round of n updates, f of them malicious: fills tau when
// tau_from_round; otherwise returns `config` unchanged.
absl::StatusOr<AttackConfig> ForRound(const AttackConfig& config, int n, int f);

// "sign_flip", "ipm:tau=3", "alie" (z_max), "alie:tau=1.5", "gaussian:tau=1", "scaling:tau=10",
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
