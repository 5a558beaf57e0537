// How a simulation spreads its devices' training over processes. The leader
// (the one process that runs the coordinator, selects devices, uploads and
// evaluates) hands each chunk of admitted devices to Train; the other processes
// sit in Serve, train the devices they own and send the leader their uploads.
// Every device trains from its own seed (client::TrainPlanOf), so where it
// trains changes nothing: the coordinator receives the same uploads in the same
// order, and commits the same models, whatever the number of processes.
// sim/mpi_distribution.h spreads over Open MPI ranks.
#ifndef FEDTINY_SIM_DISTRIBUTION_H_
#define FEDTINY_SIM_DISTRIBUTION_H_

#include <vector>

#include "absl/status/status.h"
#include "sim/client_data.h"
#include "sim/device_round.h"
#include "sim/experiment_types.h"

namespace fedtiny::sim {

// Implementations are used by one thread per process (the driver's).
class Distribution {
 public:
  virtual ~Distribution() = default;
  // True in the process that runs the coordinator and writes the outputs.
  virtual bool leader() const = 0;
  // Leader: TrainAll(c, data, devices), each device trained by the process
  // that owns it; fills every device's update and upload. An error (a
  // process failed) leaves the run unusable.
  virtual absl::Status Train(const ExperimentConfig& c, const ClientDataSource& data,
                             std::vector<SimDevice*>& devices) = 0;
  // Leader: ends the current run; every Serve returns.
  virtual absl::Status EndRun() = 0;
  // Others: serve the leader's Train calls for one run (same config and data
  // as the leader's) until it calls EndRun.
  virtual absl::Status Serve(const ExperimentConfig& c, const ClientDataSource& data) = 0;
};

// TrainAll here, or through c.distribution when it is set.
absl::Status TrainDevices(const ExperimentConfig& c, const ClientDataSource& data,
                          std::vector<SimDevice*>& devices);

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_DISTRIBUTION_H_
