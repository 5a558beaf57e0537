#include "aggregation/attacks.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace fedtiny::aggregation {

namespace {

using Kind = AttackConfig::Kind;

Eigen::VectorXf SampleStd(const ConstRowMatrixMap& x, const Eigen::VectorXf& mean) {
  const Eigen::ArrayXXf centered = x.rowwise() - mean.transpose();
  return (centered.square().colwise().sum() / (x.rows() - 1)).sqrt().matrix().transpose();
}

// The largest gamma in [0, 50] for which `fits(mean + gamma * dir)` holds, by
// halving the step as in Shejwalkar & Houmansadr's Algorithm 1.
template <typename Fits>
Eigen::VectorXf LargestFitting(const Eigen::VectorXf& mean, const Eigen::VectorXf& dir,
                               Fits fits) {
  double gamma = 50, step = 25, best = 0;
  for (int it = 0; it < 60; ++it) {
    if (fits(mean + static_cast<float>(gamma) * dir)) {
      best = std::max(best, gamma);
      gamma += step;
    } else {
      gamma -= step;
    }
    step /= 2;
  }
  return mean + static_cast<float>(best) * dir;
}

Eigen::VectorXf MinMaxOrSum(const ConstRowMatrixMap& x, const Eigen::VectorXf& mean,
                            bool min_max) {
  const int64_t n = x.rows();
  const Eigen::VectorXf dir = -SampleStd(x, mean);
  // Squared distances of every honest update to the others.
  std::vector<double> bound_per(n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double d2 = (x.row(i) - x.row(j)).squaredNorm();
      bound_per[i] = min_max ? std::max(bound_per[i], d2) : bound_per[i] + d2;
    }
  const double bound = *std::max_element(bound_per.begin(), bound_per.end());
  return LargestFitting(mean, dir, [&](const Eigen::VectorXf& m) {
    double agg = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double d2 = (x.row(i).transpose() - m).squaredNorm();
      agg = min_max ? std::max(agg, d2) : agg + d2;
    }
    return agg <= bound;
  });
}

}  // namespace

absl::StatusOr<AttackConfig> ParseAttack(absl::string_view spec) {
  std::vector<absl::string_view> head = absl::StrSplit(spec, absl::MaxSplits(':', 1));
  AttackConfig c;
  const std::string name(head[0]);
  if (name == "sign_flip") {
    c = {Kind::kSignFlip, 2.0};
  } else if (name == "ipm") {
    c = {Kind::kIpm, 3.0};
  } else if (name == "alie") {
    c = {Kind::kAlie, 0, /*tau_from_round=*/true};
  } else if (name == "gaussian") {
    c = {Kind::kGaussian, 1.0};
  } else if (name == "scaling") {
    c = {Kind::kScaling, 10.0};
  } else if (name == "min_max") {
    c = {Kind::kMinMax, 0};
  } else if (name == "min_sum") {
    c = {Kind::kMinSum, 0};
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown attack '", name, "'"));
  }
  if (head.size() == 2) {
    std::vector<absl::string_view> kv = absl::StrSplit(head[1], absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0] != "tau" || !absl::SimpleAtod(kv[1], &c.tau) ||
        !std::isfinite(c.tau)) {
      return absl::InvalidArgumentError(
          absl::StrCat("attack '", name, "': bad parameter '", head[1], "'"));
    }
    c.tau_from_round = false;
  }
  return c;
}

absl::StatusOr<double> AlieZMax(int n, int f) {
  if (n < 1 || f < 0 || f >= n) {
    return absl::InvalidArgumentError(absl::StrCat("alie: need 0 <= f < n, got n=", n, " f=", f));
  }
  const int s = n / 2 + 1 - f;
  const double p = static_cast<double>(n - s) / n;
  if (p >= 1) return absl::InvalidArgumentError("alie: f too large for z_max");
  if (p <= 0.5) return 0.0;  // At most half the updates to win: no room beyond the mean.
  // Phi^-1(p) by bisection on Phi(z) = erfc(-z / sqrt 2) / 2, monotone in z;
  // 200 halvings of [0, 40] reach double precision.
  double lo = 0, hi = 40;
  for (int i = 0; i < 200; ++i) {
    const double mid = (lo + hi) / 2;
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

absl::StatusOr<AttackConfig> ForRound(const AttackConfig& config, int n, int f) {
  if (!config.tau_from_round) return config;
  AttackConfig c = config;
  absl::StatusOr<double> z = AlieZMax(n, f);
  if (!z.ok()) return z.status();
  c.tau = *z;
  c.tau_from_round = false;
  return c;
}

absl::StatusOr<Eigen::VectorXf> CraftAttack(const AttackConfig& c,
                                            const ConstRowMatrixMap& honest,
                                            const Eigen::VectorXf& own,
                                            RandomSource& random) {
  const int64_t n = honest.rows();
  const bool needs_two =
      c.kind == Kind::kAlie || c.kind == Kind::kMinMax || c.kind == Kind::kMinSum;
  if (n < (needs_two ? 2 : 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("attack needs at least ", needs_two ? 2 : 1, " honest updates"));
  }
  if (c.tau_from_round) {
    return absl::InvalidArgumentError("attack: bare alie needs the round's (n, f): ForRound");
  }
  const Eigen::VectorXf mean = honest.colwise().mean().transpose();
  const float tau = static_cast<float>(c.tau);
  switch (c.kind) {
    case Kind::kSignFlip:
    case Kind::kIpm:
      return Eigen::VectorXf(mean - tau * mean);
    case Kind::kAlie:
      return Eigen::VectorXf(mean + tau * SampleStd(honest, mean));
    case Kind::kGaussian: {
      Eigen::VectorXf noise(mean.size());
      FillGaussian(random, c.tau, absl::MakeSpan(noise.data(), noise.size()));
      return Eigen::VectorXf(mean + noise);
    }
    case Kind::kScaling:
      if (own.size() != honest.cols()) {
        return absl::InvalidArgumentError("scaling attack: own update has the wrong size");
      }
      return Eigen::VectorXf(tau * own);
    case Kind::kMinMax:
      return MinMaxOrSum(honest, mean, /*min_max=*/true);
    case Kind::kMinSum:
      return MinMaxOrSum(honest, mean, /*min_max=*/false);
  }
  return absl::InternalError("unreachable");
}

}  // namespace fedtiny::aggregation
