// The simulator's asynchronous (FedBuff) loop, for tasks with TaskConfig.async:
// on the virtual clock, up to `concurrency` devices train at once, each from
// the model current when it checked in; each uploads when its own round ends
// (Population::RoundSeconds) and a new device checks in in its place. The
// coordinator buffers, weighs by staleness, and commits a version every
// `buffer` updates; each commit (one round) is one RoundRecord.
#ifndef FEDTINY_SIM_ASYNC_DRIVER_H_
#define FEDTINY_SIM_ASYNC_DRIVER_H_

#include <functional>

#include "absl/status/status.h"
#include "coordinator/clock.h"
#include "sim/client_data.h"
#include "sim/device_round.h"
#include "sim/experiment_types.h"
#include "sim/federation.h"
#include "sim/population.h"

namespace fedtiny::sim {

// As RunRounds (sim/round_driver.h), for an asynchronous task: runs until
// config.task.rounds() versions are committed (at most 3x that many rounds
// closed), appending one record per round. Dropped devices report a failure
// when they would have finished; devices slower than the round deadline never
// upload and hold their slot until their token expires. kInvalidArgument with
// attackers (not simulated asynchronously). Blocks.
absl::Status RunAsyncRounds(const ExperimentConfig& config, const ClientDataSource& data,
                            const Population& population, Federation& federation,
                            coordinator::FakeClock& clock, const EvaluateFn& evaluate,
                            ExperimentResult& result,
                            const std::function<void(const RoundRecord&)>& on_round);

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_ASYNC_DRIVER_H_
