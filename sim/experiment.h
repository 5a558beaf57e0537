// One federated experiment on Fashion-MNIST: pre-train the body on the server's
// proxy split and freeze it, then federate the head over a virtual population.
// Every client trains with the real client::HeadTrainer on its own data; the
// server combines updates with the real aggregation/ code (robust aggregator and
// server optimizer). Virtual time comes from the population's device classes.
//
// The rounds run on the coordinator's real RoundEngine (selection, tokens,
// validation, per-cluster aggregation, server optimizer) on virtual time.
#ifndef FEDTINY_SIM_EXPERIMENT_H_
#define FEDTINY_SIM_EXPERIMENT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/experiment_types.h"
#include "sim/fashion_mnist.h"
#include "sim/synthetic.h"

namespace fedtiny::sim {

// Runs the experiment; calls `on_round` after every round. kInvalidArgument for a
// bad configuration. Blocks; uses `config.threads` threads.
absl::StatusOr<ExperimentResult> RunExperiment(
    const ExperimentConfig& config, const FashionMnist& data,
    const std::function<void(const RoundRecord&)>& on_round = nullptr);

// The same rounds on LEAF's Synthetic(alpha, beta) data (sim/synthetic.h), made
// lazily per device so that populations of millions fit in memory; the model is
// multinomial logistic regression (60 -> 10). `config.clients` and the data
// fields of `config` are ignored in favour of `options`.
absl::StatusOr<ExperimentResult> RunSyntheticExperiment(
    const ExperimentConfig& config, const SyntheticOptions& options,
    const std::function<void(const RoundRecord&)>& on_round = nullptr);

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_EXPERIMENT_H_
