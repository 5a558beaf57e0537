// The in-process driver: rounds on the coordinator's real RoundEngine, on virtual
// time, over a population and any ClientDataSource. Devices check in through the
// engine; reporting devices fetch (or generate) their data, pick a cluster head
// (IFCA), train with the SDK's HeadTrainer on `config.threads` threads, and upload
// through the engine; attackers upload crafted updates.
#ifndef FEDTINY_SIM_ROUND_DRIVER_H_
#define FEDTINY_SIM_ROUND_DRIVER_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "client/core/model.h"
#include "sim/client_data.h"
#include "sim/experiment_types.h"
#include "sim/population.h"

namespace fedtiny::sim {

// Evaluates the current heads; fills per-group accuracies when it has groups.
using EvaluateFn = std::function<absl::StatusOr<client::Evaluation>(
    const std::vector<client::Head>& heads, std::vector<double>* group_accuracy)>;

// Runs config.rounds rounds from `initial` heads (one per cluster), appending to
// result.rounds and counting result.client_updates. kInvalidArgument for specs
// the engine refuses. Blocks.
absl::Status RunRounds(const ExperimentConfig& config, const ClientDataSource& data,
                       const Population& population, std::vector<client::Head> initial,
                       const EvaluateFn& evaluate, ExperimentResult& result,
                       const std::function<void(const RoundRecord&)>& on_round);

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_ROUND_DRIVER_H_
