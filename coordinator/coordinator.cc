#include "coordinator/coordinator.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "tools/base/crypto/ec_key.h"
#include "tools/base/crypto/envelope.h"
#include "proto/trust.pb.h"
#include "tools/base/logging.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator {

namespace {

constexpr int kMaxDeviceIdBytes = 128;
constexpr int kMinSecretBytes = 16;
constexpr int kMaxSecretBytes = 64;

}  // namespace

absl::Status ValidateCheckIn(const v1::CheckInRequest& r) {
  if (r.device_id().empty() || r.device_id().size() > kMaxDeviceIdBytes) {
    return absl::InvalidArgumentError("check-in: device_id must have 1 to 128 bytes");
  }
  if (r.state().battery_percent() < 0 || r.state().battery_percent() > 100) {
    return absl::InvalidArgumentError("check-in: state.battery_percent outside [0, 100]");
  }
  if (r.device_class().size() > 64 || r.population().size() > 64) {
    return absl::InvalidArgumentError("check-in: device_class and population take <= 64 bytes");
  }
  if (r.device_secret().size() < kMinSecretBytes || r.device_secret().size() > kMaxSecretBytes) {
    return absl::InvalidArgumentError("check-in: device_secret must have 16 to 64 bytes");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(
    std::unique_ptr<Store> store, const Clock* clock, aggregation::RandomSource* random,
    TrustOptions trust) {
  std::unique_ptr<Coordinator> c(
      new Coordinator(std::move(store), clock, random, std::move(trust.repository)));
  ASSIGN_OR_RETURN(c->enrollments_, Enrollments::Open(trust.enrollment_path));
  if (trust.encrypt_bundles) {
    ASSIGN_OR_RETURN(c->model_keys_, ModelKeys::Open(trust.model_keys_path));
  }
  RETURN_IF_ERROR(c->store_->CheckIntegrity());
  ASSIGN_OR_RETURN(int abandoned, c->store_->AbandonOpenRounds(absl::ToUnixMillis(clock->Now())));
  if (abandoned > 0) FT_LOG(WARNING) << abandoned << " round(s) open at the last stop: abandoned";
  ASSIGN_OR_RETURN(int orphans, c->store_->CollectGarbage());
  if (orphans > 0) FT_LOG(WARNING) << orphans << " unreferenced model blob(s) from an interrupted commit removed";
  ASSIGN_OR_RETURN(std::vector<TaskRow> rows, c->store_->Tasks());
  for (const TaskRow& row : rows) {
    ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> runner, TaskRunner::Load(row, c->Env()));
    absl::MutexLock lock(&c->mu_);
    c->tasks_[row.name] = std::move(runner);
  }
  return c;
}

absl::StatusOr<std::shared_ptr<TaskRunner>> Coordinator::Find(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(name);
  if (it == tasks_.end()) return absl::NotFoundError(absl::StrCat("no task '", name, "'"));
  return it->second;
}

absl::StatusOr<v1::TaskInfo> Coordinator::CreateTask(const v1::TaskConfig& raw) {
  ASSIGN_OR_RETURN(v1::TaskConfig config, ValidateTaskConfig(raw));
  {
    absl::MutexLock lock(&mu_);
    if (tasks_.count(config.name())) {
      return absl::AlreadyExistsError(absl::StrCat("task '", config.name(), "' exists"));
    }
  }
  // Written without the registry lock; a concurrent create of the same name
  // fails in the store (kAlreadyExists).
  ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> runner, TaskRunner::Create(config, Env()));
  std::shared_ptr<TaskRunner> r = runner;
  {
    absl::MutexLock lock(&mu_);
    if (!tasks_.emplace(config.name(), std::move(runner)).second) {
      return absl::AlreadyExistsError(absl::StrCat("task '", config.name(), "' exists"));
    }
  }
  FT_LOG(INFO) << "task " << config.name() << " created: " << config.clients_per_round()
               << " clients per round, " << config.rounds() << " rounds, " << config.aggregator();
  return r->Info();
}

std::vector<v1::TaskInfo> Coordinator::ListTasks() {
  std::vector<std::shared_ptr<TaskRunner>> runners;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, t] : tasks_) runners.push_back(t);
  }
  std::vector<v1::TaskInfo> out;
  for (const std::shared_ptr<TaskRunner>& t : runners) out.push_back(t->Info());
  return out;
}

absl::StatusOr<v1::TaskInfo> Coordinator::GetTask(const std::string& task) {
  ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> t, Find(task));
  return t->Info();
}

absl::StatusOr<fedtiny::telemetry::TelemetrySpec> Coordinator::TelemetrySpecOf(const std::string& task) {
  ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> t, Find(task));
  if (!t->config().has_telemetry()) {
    return absl::FailedPreconditionError(absl::StrCat("task '", task, "' records no telemetry"));
  }
  return t->config().telemetry();
}

absl::StatusOr<v1::TaskInfo> Coordinator::SetPaused(const std::string& task, bool paused) {
  ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> t, Find(task));
  return t->SetPaused(paused);
}

absl::StatusOr<v1::TaskInfo> Coordinator::StopTask(const std::string& task) {
  ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> t, Find(task));
  return t->Stop();
}

absl::Status Coordinator::DeleteTask(const std::string& task, const std::string& confirm) {
  ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> t, Find(task));
  if (confirm != task) {
    return absl::InvalidArgumentError(
        absl::StrCat("deleting task '", task, "' needs confirm set to its name"));
  }
  // Stopped first: the open round is recorded abandoned and none opens again.
  if (t->state() != v1::STOPPED) RETURN_IF_ERROR(t->Stop().status());
  RETURN_IF_ERROR(store_->DeleteTask(task));
  {
    absl::MutexLock lock(&mu_);
    tasks_.erase(task);  // Calls in flight keep their runner; its writes now fail.
  }
  if (model_keys_ != nullptr) {
    absl::Status s = model_keys_->Retain(task, {});  // Its model keys go, wiped.
    if (!s.ok()) FT_LOG(ERROR) << "task " << task << ": cannot drop its model keys: " << s;
  }
  if (trust_ != nullptr) {
    // Its targets go too: nothing deleted stays installable.
    absl::Status s = trust_->Publish(task, {}, {});
    if (!s.ok()) FT_LOG(ERROR) << "task " << task << ": cannot remove its signed targets: " << s;
  }
  FT_LOG(WARNING) << "task " << task << " deleted";
  return absl::OkStatus();
}

absl::StatusOr<v1::TaskInfo> Coordinator::UpdateTask(const v1::UpdateTaskRequest& edit) {
  ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> t, Find(edit.task()));
  return t->Edit(edit);
}

absl::StatusOr<v1::ModelVersion> Coordinator::RollbackModel(const std::string& task, int cluster,
                                                            int64_t to_version) {
  ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> t, Find(task));
  return t->Rollback(cluster, to_version);
}

absl::StatusOr<v1::ModelVersion> Coordinator::PinModel(const std::string& task, int cluster,
                                                       int64_t version, bool pinned) {
  ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> t, Find(task));
  return t->Pin(cluster, version, pinned);
}

absl::StatusOr<v1::ListDevicesResponse> Coordinator::ListDevices(const v1::ListDevicesRequest& r) {
  ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> t, Find(r.task()));
  return t->ListDevices(r);
}

absl::StatusOr<StorageUse> Coordinator::StorageUsage() { return store_->Usage(); }

absl::Status Coordinator::RecordAudit(AuditRow row) {
  row.time_ms = absl::ToUnixMillis(clock_->Now());
  return store_->AppendAudit(row);
}

absl::StatusOr<std::vector<AuditRow>> Coordinator::ListAudit(const std::string& task, int limit) {
  return store_->Audit(task, limit);
}

absl::StatusOr<v1::CheckInResponse> Coordinator::CheckIn(const v1::CheckInRequest& r) {
  RETURN_IF_ERROR(ValidateCheckIn(r));
  const std::string key = SecretKeyOf(r.device_secret());
  RETURN_IF_ERROR(devices_.Bind(r.device_id(), key));
  if (model_keys_ != nullptr && !enrollments_->PublicKeyOf(r.device_id())) {
    return absl::FailedPreconditionError(
        enrollments_->IsRevoked(r.device_id())
            ? "check-in: this device is revoked: it gets no model keys"
            : "check-in: bundles are encrypted: enroll first (Federation.Enroll with the "
              "device's public key)");
  }
  std::vector<std::shared_ptr<TaskRunner>> candidates;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, t] : tasks_) {
      if (t->config().population() == r.population()) candidates.push_back(t);
    }
  }
  bool paused = false, done = false;
  for (const std::shared_ptr<TaskRunner>& t : candidates) {
    switch (t->state()) {
      case v1::DONE:
      case v1::STOPPED:
        done = true;
        break;
      case v1::PAUSED:
        paused = true;
        break;
      default: {
        ASSIGN_OR_RETURN(v1::CheckInResponse out, t->CheckIn(r, key));
        if (model_keys_ != nullptr && out.has_assignment()) {
          RETURN_IF_ERROR(WrapKeys(r.device_id(), *out.mutable_assignment()));
        }
        return out;
      }
    }
  }
  // docs/protocol.md: paused 5-10 min, finished 6-12 h, no such population 1-5 min.
  const auto [earliest, latest] =
      paused ? std::pair(absl::Minutes(5), absl::Minutes(10))
             : done ? std::pair(absl::Hours(6), absl::Hours(12))
                    : std::pair(absl::Minutes(1), absl::Minutes(5));
  v1::CheckInResponse out;
  out.mutable_retry()->set_earliest_ms(absl::ToInt64Milliseconds(earliest));
  out.mutable_retry()->set_latest_ms(absl::ToInt64Milliseconds(latest));
  return out;
}

absl::StatusOr<v1::DownloadResponse> Coordinator::Download(const v1::DownloadRequest& r) {
  ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> t, Find(r.task()));
  return t->Download(r);
}

absl::Status Coordinator::Upload(const v1::UploadRequest& r) {
  ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> t, Find(r.task()));
  return t->Upload(r);
}

absl::Status Coordinator::ReportFailure(const v1::FailureReport& r) {
  ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> t, Find(r.task()));
  return t->ReportFailure(r);
}

absl::StatusOr<v1::MetadataResponse> Coordinator::GetMetadata(const v1::MetadataRequest& r) {
  constexpr int64_t kDefaultBytes = 1 << 20, kMaxBytes = 4 << 20;
  if (r.max_bytes() < 0 || r.max_bytes() > kMaxBytes) {
    return absl::InvalidArgumentError("metadata: max_bytes outside [0, 4 MiB]");
  }
  if (r.path().empty() || r.path().size() > 64) {
    return absl::InvalidArgumentError("metadata: path must have 1 to 64 bytes");
  }
  if (trust_ == nullptr) return absl::NotFoundError("this coordinator serves no trust metadata");
  ASSIGN_OR_RETURN(std::string data, trust_->Get(r.path()));
  const size_t bound = static_cast<size_t>(r.max_bytes() > 0 ? r.max_bytes() : kDefaultBytes);
  if (data.size() > bound) data.resize(bound + 1);  // The device refuses it as endless.
  v1::MetadataResponse out;
  out.set_data(std::move(data));
  return out;
}

absl::Status Coordinator::AuthenticateDevice(const std::string& device_id,
                                             const std::string& secret) {
  if (device_id.empty() || device_id.size() > kMaxDeviceIdBytes) {
    return absl::InvalidArgumentError("device_id must have 1 to 128 bytes");
  }
  if (secret.size() < kMinSecretBytes || secret.size() > kMaxSecretBytes) {
    return absl::InvalidArgumentError("device_secret must have 16 to 64 bytes");
  }
  return devices_.Bind(device_id, SecretKeyOf(secret));
}

absl::StatusOr<v1::EnrollResponse> Coordinator::Enroll(const v1::EnrollRequest& r) {
  if (r.device_id().empty() || r.device_id().size() > kMaxDeviceIdBytes) {
    return absl::InvalidArgumentError("enroll: device_id must have 1 to 128 bytes");
  }
  if (r.device_secret().size() < kMinSecretBytes || r.device_secret().size() > kMaxSecretBytes) {
    return absl::InvalidArgumentError("enroll: device_secret must have 16 to 64 bytes");
  }
  if (r.device_public_key_spki().size() > 512) {
    return absl::InvalidArgumentError("enroll: device_public_key_spki takes <= 512 bytes");
  }
  RETURN_IF_ERROR(devices_.Bind(r.device_id(), SecretKeyOf(r.device_secret())));
  RETURN_IF_ERROR(enrollments_->Enroll(r.device_id(), r.device_public_key_spki()));
  // Model keys reach the device at check-in (Assignment.wrapped_keys).
  v1::EnrollResponse out;
  out.set_bundles_encrypted(model_keys_ != nullptr);
  if (trust_ != nullptr) {
    out.set_root(trust_->LatestRoot());
    out.set_root_version(trust_->root_version());
  }
  return out;
}

absl::Status Coordinator::WrapKeys(const std::string& device_id, v1::Assignment& a) const {
  // Looked up again: a device revoked since the check above gets nothing.
  std::optional<std::string> spki = enrollments_->PublicKeyOf(device_id);
  if (!spki) return absl::FailedPreconditionError("check-in: this device is revoked");
  ASSIGN_OR_RETURN(crypto::EcPublicKey device_key, crypto::EcPublicKey::FromSpkiDer(*spki));
  for (const v1::ModelBundle& b : a.bundles()) {
    ModelKeys::Key key = model_keys_->Find(b.target_name());
    if (key == nullptr) {
      return absl::UnavailableError("check-in: the bundle's model key is gone; check in again");
    }
    ASSIGN_OR_RETURN(v1::WrappedKey wrapped, crypto::WrapModelKey(device_key, *key, BindingOf(b)));
    a.add_wrapped_keys(wrapped.SerializeAsString());
  }
  return absl::OkStatus();
}

absl::Status Coordinator::RevokeDevice(const std::string& device_id) {
  RETURN_IF_ERROR(enrollments_->Revoke(device_id));
  FT_LOG(WARNING) << "device " << device_id.substr(0, kMaxDeviceIdBytes) << " revoked";
  return absl::OkStatus();
}

void Coordinator::Tick() {
  if (trust_ != nullptr) {
    absl::Status s = trust_->Tick();
    if (!s.ok()) FT_LOG(ERROR) << "model trust: cannot re-sign the timestamp: " << s;
  }
  std::vector<std::shared_ptr<TaskRunner>> runners;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, t] : tasks_) runners.push_back(t);
  }
  for (const std::shared_ptr<TaskRunner>& t : runners) t->Tick();
}

absl::StatusOr<std::vector<v1::RoundInfo>> Coordinator::ListRounds(const std::string& task, int limit) {
  ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> t, Find(task));
  return t->ListRounds(limit);
}

absl::StatusOr<v1::RoundInfo> Coordinator::GetRound(const std::string& task, int64_t round) {
  ASSIGN_OR_RETURN(std::vector<v1::RoundInfo> all, ListRounds(task, -1));
  for (const v1::RoundInfo& r : all) {
    if (r.round() == round) return r;
  }
  return absl::NotFoundError(absl::StrCat("task ", task, " has no round ", round));
}

absl::StatusOr<std::vector<v1::ModelVersion>> Coordinator::ListModels(const std::string& task) {
  ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> t, Find(task));
  return t->ListModels();
}

absl::StatusOr<v1::VerifyResponse> Coordinator::Verify(const std::string& task) {
  ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> t, Find(task));
  return t->Verify();
}

absl::StatusOr<v1::FleetResponse> Coordinator::Fleet(const std::string& task) {
  ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> t, Find(task));
  return t->Fleet();
}

absl::StatusOr<std::map<int, std::string>> Coordinator::CurrentModels(const std::string& task) {
  ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> t, Find(task));
  return t->CurrentModels();
}

absl::StatusOr<v1::GetModelResponse> Coordinator::GetModel(const std::string& task, int cluster,
                                                          int64_t version) {
  ASSIGN_OR_RETURN(std::shared_ptr<TaskRunner> t, Find(task));
  return t->GetModel(cluster, version);
}

}  // namespace fedtiny::coordinator
