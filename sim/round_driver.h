// The simulator's round loop. Virtual devices (a Population over any
// ClientDataSource) talk to a Federation, the real coordinator in process or a
// real server over gRPC, on a virtual clock: they check in, download the
// bundles they are assigned, run the device's round (client::RunRound: pick the
// cluster head, train, delta, clip, metrics) with the SDK's HeadTrainer on
// `threads` threads, and upload at their virtual finishing times; attackers
// upload crafted updates. The coordinator alone decides selection, model
// variants, lateness, when a round closes and what it commits.
#ifndef FEDTINY_SIM_ROUND_DRIVER_H_
#define FEDTINY_SIM_ROUND_DRIVER_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "client/core/model.h"
#include "coordinator/clock.h"
#include "sim/client_data.h"
#include "sim/device_round.h"
#include "sim/experiment_types.h"
#include "sim/federation.h"
#include "sim/population.h"

namespace fedtiny::sim {

// Runs rounds of the task `config.task` (created on `federation` already, its
// config as validated) until it has committed config.task.rounds() rounds (at
// most 3x that many attempts), appending to result.rounds and counting
// result.client_updates. `clock` is the clock the coordinator reads; the driver
// moves it. Blocks.
absl::Status RunRounds(const ExperimentConfig& config, const ClientDataSource& data,
                       const Population& population, Federation& federation,
                       coordinator::FakeClock& clock, const EvaluateFn& evaluate,
                       ExperimentResult& result,
                       const std::function<void(const RoundRecord&)>& on_round);

// The experiment in process: a Coordinator over a MemoryStore on a virtual
// clock, the task created from config.task (validated by the coordinator's own
// validator; kInvalidArgument naming the field otherwise), then RunRounds, or
// RunAsyncRounds (sim/async_driver.h) when the task is asynchronous. With
// config.distribution set, the leader runs this and the others serve its
// training (sim/distribution.h) until it ends the run.
absl::Status RunInProcess(const ExperimentConfig& config, const ClientDataSource& data,
                          const Population& population, const EvaluateFn& evaluate,
                          ExperimentResult& result,
                          const std::function<void(const RoundRecord&)>& on_round);

// Sets result.model_sha256 from the task's current models.
absl::Status RecordModelHashes(Federation& fed, const std::string& task, ExperimentResult& result);

// The virtual clock's origin.
inline const absl::Time kSimEpoch = absl::FromUnixSeconds(1'800'000'000);

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_ROUND_DRIVER_H_
