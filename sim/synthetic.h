// LEAF's Synthetic(alpha, beta) federated data set (Shamir et al.; used in the
// FedProx paper, Li et al. 2020), generated lazily per device from the seed:
//   u_k ~ N(0, alpha), B_k ~ N(0, beta)
//   W_k (10 x 60) and b_k (10) with entries ~ N(u_k, 1)    (the device's model)
//   v_k (60) with entries ~ N(B_k, 1)                      (its input mean)
//   x ~ N(v_k, Sigma), Sigma diagonal with Sigma_jj = j^-1.2
//   y = argmax(W_k x + b_k)
// alpha controls how much the devices' models differ, beta how much their inputs
// differ. Example counts follow a log-normal law (as LEAF), capped:
//   n_k = clamp(int(exp(N(4, size_sigma^2))) + size_offset, min_examples, max_examples)
// (the FedProx paper's generator: size_sigma 2, size_offset 50).
#ifndef FEDTINY_SIM_SYNTHETIC_H_
#define FEDTINY_SIM_SYNTHETIC_H_

#include "sim/client_data.h"

namespace fedtiny::sim {

struct SyntheticOptions {
  int64_t clients = 1000;
  double alpha = 1.0;
  double beta = 1.0;
  int64_t min_examples = 20;
  int64_t max_examples = 500;
  double size_sigma = 1.0;
  int64_t size_offset = 0;
  // Held-out examples per evaluated device; 0: a quarter of its training
  // examples (an 80/20 split of its data, as FedProx evaluates).
  int64_t test_examples = 20;
  uint64_t seed = 1;
};

inline constexpr int kSyntheticDim = 60;
inline constexpr int kSyntheticClasses = 10;

// Stateless after construction; thread-safe.
class SyntheticSource final : public ClientDataSource {
 public:
  explicit SyntheticSource(const SyntheticOptions& options) : o_(options) {}
  int64_t num_clients() const override { return o_.clients; }
  int64_t feature_dim() const override { return kSyntheticDim; }
  int64_t NumExamples(int64_t k) const override;
  ClientData Get(int64_t k) const override { return Make(k, NumExamples(k), 0); }
  // Held-out examples of device k (drawn from the same distribution, another stream).
  ClientData Test(int64_t k, int64_t n) const { return Make(k, n, 1); }

 private:
  ClientData Make(int64_t k, int64_t n, uint64_t stream) const;
  SyntheticOptions o_;
};

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_SYNTHETIC_H_
