// Server optimizers applied to the aggregated client delta (Reddi et al. 2021,
// "Adaptive Federated Optimization"). The delta is "trained minus received", so a
// step moves the weights along it:
//   sgd:      x += lr * d                       (lr = 1 is plain FedAvg)
//   fedavgm:  m = beta1 * m + d;  x += lr * m
//   fedadam:  m = b1 m + (1-b1) d;  v = b2 v + (1-b2) d^2;  x += lr m / (sqrt(v)+tau)
//   fedyogi:  as fedadam but v = v - (1-b2) d^2 sign(v - d^2)
// m and v start at zero. The state serializes and restores bit-exactly, so a
// coordinator restart does not change the next step.
#ifndef FEDTINY_AGGREGATION_SERVER_OPTIMIZER_H_
#define FEDTINY_AGGREGATION_SERVER_OPTIMIZER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fedtiny::aggregation {

struct ServerOptimizerConfig {
  enum class Kind : uint8_t { kSgd = 0, kFedAvgM = 1, kFedAdam = 2, kFedYogi = 3 };
  Kind kind = Kind::kSgd;
  double lr = 1.0;
  double beta1 = 0.9;   // Momentum (fedavgm) or first-moment decay (adam, yogi).
  double beta2 = 0.99;  // Second-moment decay (adam, yogi).
  double tau = 1e-3;    // Adaptivity (adam, yogi).
};

// Parses "sgd[:lr=1]", "fedavgm:lr=1,beta1=0.9", "fedadam:lr=0.01,beta1=0.9,
// beta2=0.99,tau=1e-3", "fedyogi:...". kInvalidArgument on unknown names, keys or
// out-of-range values.
absl::StatusOr<ServerOptimizerConfig> ParseServerOptimizer(absl::string_view spec);

// ServerOptimizer owns its moment buffers. Not thread-safe.
class ServerOptimizer {
 public:
  ServerOptimizer(const ServerOptimizerConfig& config, int64_t dim);

  // Apply moves `weights` by one step for `delta`. kInvalidArgument when a size
  // differs from dim() or delta holds NaN/Inf; kOutOfRange when the step would
  // leave a weight or moment non-finite (a huge lr, delta or moment). On any
  // error nothing changes.
  absl::Status Apply(const Eigen::VectorXf& delta, Eigen::VectorXf& weights);

  // The whole state (config, step count, moments) as bytes, and back. Restore
  // returns kInvalidArgument (naming what is wrong) for truncated or corrupt data.
  std::string Serialize() const;
  static absl::StatusOr<ServerOptimizer> Restore(absl::string_view bytes);

  int64_t dim() const { return m_.size(); }
  int64_t steps() const { return steps_; }
  const ServerOptimizerConfig& config() const { return config_; }

 private:
  ServerOptimizerConfig config_;
  int64_t steps_ = 0;
  Eigen::VectorXf m_;
  Eigen::VectorXf v_;
};

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_SERVER_OPTIMIZER_H_
