// Renyi-DP accountant for the sampled Gaussian mechanism (Mironov, Talwar & Zhang
// 2019), the computation TensorFlow Privacy and Google's dp_accounting use: each
// round samples clients with probability q and adds Gaussian noise of multiplier
// sigma to the clipped sum. Converts to (epsilon, delta) with the bound of Canonne,
// Kamath & Steinke 2020 (as dp_accounting's compute_epsilon).
#ifndef FEDTINY_AGGREGATION_RDP_ACCOUNTANT_H_
#define FEDTINY_AGGREGATION_RDP_ACCOUNTANT_H_

#include <vector>

#include "absl/status/statusor.h"

namespace fedtiny::aggregation {

// RDP of one sampled Gaussian step at `order` (> 1, may be +inf).
double SampledGaussianRdp(double q, double sigma, double order);

struct EpsilonAtDelta {
  double epsilon;
  double order;  // The order that gave the smallest epsilon.
};

// The smallest epsilon over the orders for RDP values `rdp` at `delta`.
// kInvalidArgument for mismatched sizes, orders < 1, negative RDP or delta
// outside (0, 1).
absl::StatusOr<EpsilonAtDelta> RdpToEpsilon(const std::vector<double>& orders,
                                           const std::vector<double>& rdp,
                                           double delta);

// RdpAccountant accumulates RDP over rounds. Not thread-safe; a value type.
class RdpAccountant {
 public:
  // Orders 1.1 .. 10.9 by 0.1, 11 .. 63, 128, 256, 512 (as dp_accounting).
  RdpAccountant();
  explicit RdpAccountant(std::vector<double> orders);

  // Records `steps` rounds of the sampled Gaussian mechanism. kInvalidArgument
  // for q outside [0, 1], sigma < 0 or steps < 0.
  absl::Status Compose(double q, double sigma, int64_t steps);
  absl::StatusOr<EpsilonAtDelta> GetEpsilon(double delta) const;
  const std::vector<double>& orders() const { return orders_; }
  const std::vector<double>& rdp() const { return rdp_; }

 private:
  std::vector<double> orders_;
  std::vector<double> rdp_;
};

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_RDP_ACCOUNTANT_H_
