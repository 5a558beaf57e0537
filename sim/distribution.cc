#include "sim/distribution.h"

namespace fedtiny::sim {

absl::Status TrainDevices(const ExperimentConfig& c, const ClientDataSource& data,
                          std::vector<SimDevice*>& devices) {
  if (c.distribution != nullptr) return c.distribution->Train(c, data, devices);
  TrainAll(c, data, devices);
  return absl::OkStatus();
}

}  // namespace fedtiny::sim
