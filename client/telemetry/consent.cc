#include "client/telemetry/consent.h"

#include <utility>

#include "client/platform/linux/status_bridge.h"

namespace fedtiny::client::telemetry {

using ::fedtiny::telemetry::ConsentRecord;

absl::StatusOr<std::unique_ptr<Consent>> Consent::Open(
    Storage& storage, std::string path, const ::fedtiny::Clock& clock,
    Recorder& recorder) {
  std::unique_ptr<Consent> c(
      new Consent(storage, std::move(path), clock, recorder));
  recorder.set_enabled(false);
  StatusOr<std::string> bytes = storage.ReadFile(c->path_);
  if (!bytes.ok() && bytes.status().code() != StatusCode::kNotFound) {
    return ToAbsl(bytes.status());
  }
  absl::MutexLock lock(&c->mu_);
  if (bytes.ok() && !c->record_.ParseFromString(*bytes)) c->record_.Clear();
  recorder.set_enabled(c->record_.granted());
  return c;
}

absl::Status Consent::Grant(const std::string& purpose,
                            const std::string& scope,
                            const std::string& version) {
  if (purpose.empty() || scope.empty() || version.empty()) {
    return absl::InvalidArgumentError(
        "consent: purpose, scope and version are required");
  }
  ConsentRecord r;
  r.set_granted(true);
  r.set_purpose(purpose);
  r.set_scope(scope);
  r.set_version(version);
  r.set_time_unix_s(absl::ToUnixSeconds(clock_.Now()));
  absl::MutexLock lock(&mu_);
  absl::Status stored =
      ToAbsl(storage_.WriteFileAtomically(path_, r.SerializeAsString()));
  if (!stored.ok()) return stored;
  record_ = std::move(r);
  recorder_.set_enabled(true);
  return absl::OkStatus();
}

absl::Status Consent::Withdraw() {
  recorder_.set_enabled(false);
  absl::MutexLock lock(&mu_);
  record_.set_granted(false);
  record_.set_time_unix_s(absl::ToUnixSeconds(clock_.Now()));
  return ToAbsl(
      storage_.WriteFileAtomically(path_, record_.SerializeAsString()));
}

absl::Status Consent::DeleteWithData() {
  recorder_.set_enabled(false);
  recorder_.Erase();
  absl::MutexLock lock(&mu_);
  record_.Clear();
  return ToAbsl(storage_.Remove(path_));
}

ConsentRecord Consent::record() const {
  absl::MutexLock lock(&mu_);
  return record_;
}

bool Consent::granted() const {
  absl::MutexLock lock(&mu_);
  return record_.granted();
}

}  // namespace fedtiny::client::telemetry
