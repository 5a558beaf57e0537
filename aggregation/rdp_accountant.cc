#include "aggregation/rdp_accountant.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace fedtiny::aggregation {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double LogAdd(double a, double b) {
  const double hi = std::max(a, b), lo = std::min(a, b);
  if (lo == -kInf) return hi;
  return std::log1p(std::exp(lo - hi)) + hi;
}

double LogErfc(double x) {
  const double r = std::erfc(x);
  if (r > 0) return std::log(r);
  // Asymptotic expansion where erfc underflows.
  return -std::log(M_PI) / 2 - std::log(x) - x * x - 0.5 / (x * x) +
         0.625 / std::pow(x, 4) - 37.0 / 24.0 / std::pow(x, 6) +
         353.0 / 64.0 / std::pow(x, 8);
}

// log A_alpha for integer alpha: a finite binomial sum.
double LogAInt(double q, double sigma, int alpha) {
  double log_a = -kInf;
  for (int i = 0; i <= alpha; ++i) {
    const double log_binom =
        std::lgamma(alpha + 1.0) - std::lgamma(i + 1.0) - std::lgamma(alpha - i + 1.0);
    const double s = log_binom + i * std::log(q) + (alpha - i) * std::log1p(-q) +
                     (static_cast<double>(i) * i - i) / (2 * sigma * sigma);
    log_a = LogAdd(log_a, s);
  }
  return log_a;
}

// log A_alpha for fractional alpha: the two series of Mironov, Talwar & Zhang
// (2019, Sec. 3.3), each term taken by its absolute value. That is an upper bound
// on A_alpha (the safe direction for privacy), as Google's dp_accounting computes
// it; subtracting the terms with negative binomial coefficients, as the older TF
// Privacy code did, can under-state RDP. Stops when both series are decreasing
// and 30 nats below the total; +inf (the order is then useless) if they do not
// converge within 1000 terms.
double LogAFrac(double q, double sigma, double alpha) {
  double log_a0 = -kInf, log_a1 = -kInf;
  double last_s0 = -kInf, last_s1 = -kInf;
  const double z0 = sigma * sigma * std::log(1 / q - 1) + 0.5;
  double log_abs_coef = 0;  // log |binom(alpha, i)|
  for (int i = 0; i < 1000; ++i) {
    if (i > 0) log_abs_coef += std::log(std::fabs((alpha - (i - 1)) / i));
    const double j = alpha - i;
    const double log_t0 = log_abs_coef + i * std::log(q) + j * std::log1p(-q);
    const double log_t1 = log_abs_coef + j * std::log(q) + i * std::log1p(-q);
    const double log_e0 = std::log(0.5) + LogErfc((i - z0) / (M_SQRT2 * sigma));
    const double log_e1 = std::log(0.5) + LogErfc((z0 - j) / (M_SQRT2 * sigma));
    const double log_s0 = log_t0 + (static_cast<double>(i) * i - i) / (2 * sigma * sigma) + log_e0;
    const double log_s1 = log_t1 + (j * j - j) / (2 * sigma * sigma) + log_e1;
    log_a0 = LogAdd(log_a0, log_s0);
    log_a1 = LogAdd(log_a1, log_s1);
    const double total = LogAdd(log_a0, log_a1);
    if (log_s0 < last_s0 && log_s1 < last_s1 && std::max(log_s0, log_s1) < total - 30) {
      return total;
    }
    last_s0 = log_s0;
    last_s1 = log_s1;
  }
  return kInf;
}

}  // namespace

double SampledGaussianRdp(double q, double sigma, double order) {
  if (q == 0) return 0;
  if (sigma == 0) return kInf;
  if (q == 1) return order / (2 * sigma * sigma);
  if (std::isinf(order)) return kInf;
  const double log_a = std::floor(order) == order
                           ? LogAInt(q, sigma, static_cast<int>(order))
                           : LogAFrac(q, sigma, order);
  return log_a / (order - 1);
}

absl::StatusOr<EpsilonAtDelta> RdpToEpsilon(const std::vector<double>& orders,
                                           const std::vector<double>& rdp,
                                           double delta) {
  if (orders.size() != rdp.size() || orders.empty()) {
    return absl::InvalidArgumentError("rdp: orders and values differ in length");
  }
  if (!(delta > 0 && delta < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("rdp: delta ", delta, " outside (0, 1)"));
  }
  EpsilonAtDelta best{kInf, orders[0]};
  for (size_t k = 0; k < orders.size(); ++k) {
    const double a = orders[k], r = rdp[k];
    if (a < 1 || r < 0) {
      return absl::InvalidArgumentError("rdp: orders must be >= 1 and values >= 0");
    }
    double eps;
    if (delta * delta + std::expm1(-r) > 0) {
      eps = 0;
    } else if (a > 1.01) {
      eps = r + std::log1p(-1 / a) - std::log(delta * a) / (a - 1);
    } else {
      eps = kInf;
    }
    if (eps < best.epsilon) best = {eps, a};
  }
  best.epsilon = std::max(0.0, best.epsilon);
  return best;
}

RdpAccountant::RdpAccountant() {
  for (int x = 1; x < 100; ++x) orders_.push_back(1 + x / 10.0);
  for (int a = 11; a < 64; ++a) orders_.push_back(a);
  for (double a : {128.0, 256.0, 512.0}) orders_.push_back(a);
  rdp_.assign(orders_.size(), 0.0);
}

RdpAccountant::RdpAccountant(std::vector<double> orders)
    : orders_(std::move(orders)), rdp_(orders_.size(), 0.0) {}

absl::Status RdpAccountant::Compose(double q, double sigma, int64_t steps) {
  if (!(q >= 0 && q <= 1) || !(sigma >= 0) || steps < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rdp: need q in [0,1], sigma >= 0, steps >= 0; got ", q, ", ", sigma, ", ", steps));
  }
  for (size_t k = 0; k < orders_.size(); ++k) {
    rdp_[k] += steps * SampledGaussianRdp(q, sigma, orders_[k]);
  }
  return absl::OkStatus();
}

absl::StatusOr<EpsilonAtDelta> RdpAccountant::GetEpsilon(double delta) const {
  return RdpToEpsilon(orders_, rdp_, delta);
}

}  // namespace fedtiny::aggregation
