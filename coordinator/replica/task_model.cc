#include "coordinator/replica/task_model.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "coordinator/event_log.h"
#include "coordinator/task_config.h"
#include "coordinator/task_runner.h"
#include "proto/model_codec.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator::replica {

absl::StatusOr<std::shared_ptr<const TaskModel>> TaskModel::Load(Store& store,
                                                                 const std::string& task) {
  ASSIGN_OR_RETURN(std::vector<TaskRow> rows, store.Tasks());
  const TaskRow* row = nullptr;
  for (const TaskRow& r : rows) {
    if (r.name == task) row = &r;
  }
  if (row == nullptr) return absl::NotFoundError(absl::StrCat("no task ", task));
  v1::TaskConfig config;
  if (!config.ParseFromString(row->config)) {
    return absl::DataLossError(absl::StrCat("task ", task, ": stored config unreadable"));
  }
  absl::StatusOr<v1::TaskConfig> valid = ValidateTaskConfig(config);
  if (!valid.ok()) {
    return absl::DataLossError(
        absl::StrCat("task ", task, ": stored config fails validation: ", valid.status().message()));
  }
  auto m = std::make_shared<TaskModel>();
  m->config = *std::move(valid);
  m->templates = TemplatesOf(m->config);
  m->body_prefix_bytes = TaskRunner::BodyPrefixBytes(m->config);
  m->compression = TaskRunner::CompressionOf(m->config);
  ASSIGN_OR_RETURN(std::vector<VersionRow> latest, store.LatestVersions(task));
  for (const VersionRow& v : latest) {
    v1::Model model;
    if (!model.ParseFromString(v.model)) {
      return absl::DataLossError(absl::StrCat("task ", task, ": model blob unreadable"));
    }
    absl::StatusOr<std::vector<float>> head = HeadParams(model);
    if (!head.ok()) {
      return absl::DataLossError(absl::StrCat("task ", task, " cluster ", v.cluster, " version ",
                                              v.version, ": ", head.status().message()));
    }
    ASSIGN_OR_RETURN(BundleMap b, BuildBundles(m->config, m->templates, v.cluster, v.version, *head));
    m->bundles.merge(b);
    m->models[v.cluster] = ClusterModel{*std::move(head), v.version, v.optimizer_state};
  }
  if (m->models.empty()) return absl::DataLossError(absl::StrCat("task ", task, " has no model"));
  m->engine = EngineConfigOf(m->config, static_cast<int64_t>(m->models.begin()->second.head.size()));
  return std::shared_ptr<const TaskModel>(std::move(m));
}

absl::Status CreateTask(Store& store, const v1::TaskConfig& config, const Clock& clock,
                        aggregation::RandomSource& random) {
  // The full coordinator's own path, so a task made here is one it can load.
  EventLog events;
  RunnerEnv env;
  env.store = &store;
  env.clock = &clock;
  env.random = &random;
  env.events = &events;
  return TaskRunner::Create(config, env).status();
}

}  // namespace fedtiny::coordinator::replica
