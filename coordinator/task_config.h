// A task's configuration: validation and defaults (one validator for the server
// and the simulator), the engine configuration it maps to, the variant a device
// receives, and the heads a task starts from. Pure functions; thread-safe.
#ifndef FEDTINY_COORDINATOR_TASK_CONFIG_H_
#define FEDTINY_COORDINATOR_TASK_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/round_engine.h"
#include "proto/admin.pb.h"
#include "proto/federation.pb.h"

namespace fedtiny::coordinator {

// Validates an operator's (or an experiment's) TaskConfig and fills defaults
// (kInvalidArgument naming the field otherwise).
absl::StatusOr<v1::TaskConfig> ValidateTaskConfig(v1::TaskConfig config);

// The config after an operator's edit (UpdateTaskRequest: the fields that may
// change while a task runs), validated as a whole. kInvalidArgument.
absl::StatusOr<v1::TaskConfig> ApplyEdit(const v1::TaskConfig& current,
                                         const v1::UpdateTaskRequest& edit);
// The edit's fields as "key=value ..." for the audit log.
std::string DescribeEdit(const v1::UpdateTaskRequest& edit);

// The engine configuration of a validated task whose head has `dim` parameters.
EngineConfig EngineConfigOf(const v1::TaskConfig& config, int64_t dim);

// The model variant a device gets: the one the task's variant_by_class directs
// for its class; otherwise "int8" (int8 body) for a device without an FPU or
// with less RAM than the task's int8_below_ram_bytes; otherwise the body
// variant with the smallest below_ram_bytes above the device's RAM (ties: the
// first name); else "float32".
std::string VariantFor(const v1::TaskConfig& config, const std::string& device_class,
                       const v1::DeviceCapabilities& device);

// The flat head of each cluster at version 0: cluster 0 is the config's head;
// the others add seeded Glorot-normal noise (seed = the cluster index) to each
// layer's weights, so that the clusters start apart and devices can tell them
// apart (IFCA).
absl::StatusOr<std::vector<std::vector<float>>> InitialHeads(const v1::TaskConfig& config);

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_TASK_CONFIG_H_
