// A task as the replicas serve it: its validated config, the engine
// configuration it maps to, and the models of one generation (each cluster's
// head, version and optimizer state, and the bundles devices download), as
// the store held them when loaded.
#ifndef FEDTINY_COORDINATOR_REPLICA_TASK_MODEL_H_
#define FEDTINY_COORDINATOR_REPLICA_TASK_MODEL_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "aggregation/random_source.h"
#include "coordinator/bundle_cache.h"
#include "coordinator/clock.h"
#include "coordinator/round_engine.h"
#include "coordinator/store.h"
#include "proto/admin.pb.h"
#include "tools/base/update_codec.h"

namespace fedtiny::coordinator::replica {

// Immutable once loaded: shared between threads by shared_ptr<const TaskModel>.
struct TaskModel {
  v1::TaskConfig config;
  EngineConfig engine;
  VariantTemplates templates;
  std::map<int, ClusterModel> models;  // Cluster -> newest head, version, optimizer.
  BundleMap bundles;                   // Unsigned, unencrypted.
  int64_t body_prefix_bytes = 0;
  CompressionSpec compression;  // config.compression, parsed.

  // Loads `task` from `store` (blocking): kNotFound for an unknown task,
  // kDataLoss for a config that fails validation or an unreadable newest
  // model (a replica never rolls back: a full coordinator does at start-up).
  static absl::StatusOr<std::shared_ptr<const TaskModel>> Load(Store& store,
                                                               const std::string& task);
};

// Records `config` (validated) as a new task with its version 0 models
// (TaskRunner::Create). kAlreadyExists when the name is taken,
// kInvalidArgument for a bad config.
absl::Status CreateTask(Store& store, const v1::TaskConfig& config, const Clock& clock,
                        aggregation::RandomSource& random);

}  // namespace fedtiny::coordinator::replica

#endif  // FEDTINY_COORDINATOR_REPLICA_TASK_MODEL_H_
