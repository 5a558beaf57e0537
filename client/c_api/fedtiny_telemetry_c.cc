#include "client/c_api/fedtiny_telemetry_c.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "client/telemetry/consent.h"
#include "client/telemetry/private_storage.h"
#include "client/telemetry/randomness.h"
#include "client/telemetry/recorder.h"
#include "tools/base/clock.h"

namespace tel = ::fedtiny::client::telemetry;

struct fedtiny_telemetry {
  fedtiny::RealClock clock;
  tel::PrivateFileStorage storage;
  std::unique_ptr<tel::Randomness> rng = tel::MakeOpenSslRandomness();
  std::unique_ptr<tel::Recorder> recorder;
  std::unique_ptr<tel::Consent> consent;
  mutable absl::Mutex mu;
  std::string error ABSL_GUARDED_BY(mu);
};

namespace {

// absl's codes share the C enum's values.
fedtiny_status Report(fedtiny_telemetry* t, const absl::Status& s) {
  if (s.ok()) return FEDTINY_OK;
  absl::MutexLock lock(&t->mu);
  t->error = std::string(s.message());
  return static_cast<fedtiny_status>(s.code());
}

bool Fits(const char* s, size_t field) {
  return s != nullptr && std::strlen(s) < field;
}

void Copy(const std::string& from, char* to, size_t field) {
  const size_t n = std::min(from.size(), field - 1);
  std::memcpy(to, from.data(), n);
  to[n] = '\0';
}

}  // namespace

extern "C" {

fedtiny_status fedtiny_telemetry_create(const char* consent_path,
                                        int32_t ring_windows,
                                        fedtiny_telemetry** out) {
  if (consent_path == nullptr || out == nullptr)
    return FEDTINY_INVALID_ARGUMENT;
  auto t = std::make_unique<fedtiny_telemetry>();
  tel::RecorderOptions options;
  options.ring_windows = ring_windows;
  absl::StatusOr<std::unique_ptr<tel::Recorder>> recorder =
      tel::Recorder::Create(options, t->clock, *t->rng);
  if (!recorder.ok())
    return static_cast<fedtiny_status>(recorder.status().code());
  t->recorder = *std::move(recorder);
  absl::StatusOr<std::unique_ptr<tel::Consent>> consent =
      tel::Consent::Open(t->storage, consent_path, t->clock, *t->recorder);
  if (!consent.ok())
    return static_cast<fedtiny_status>(consent.status().code());
  t->consent = *std::move(consent);
  *out = t.release();
  return FEDTINY_OK;
}

fedtiny_status fedtiny_consent_grant(fedtiny_telemetry* t, const char* purpose,
                                     const char* scope, const char* version) {
  if (t == nullptr) return FEDTINY_INVALID_ARGUMENT;
  fedtiny_consent_record r;
  if (!Fits(purpose, sizeof(r.purpose)) || !Fits(scope, sizeof(r.scope)) ||
      !Fits(version, sizeof(r.version))) {
    return Report(
        t, absl::InvalidArgumentError("consent: a null or too long string"));
  }
  return Report(t, t->consent->Grant(purpose, scope, version));
}

fedtiny_status fedtiny_consent_view(fedtiny_telemetry* t,
                                    fedtiny_consent_record* out) {
  if (t == nullptr || out == nullptr) return FEDTINY_INVALID_ARGUMENT;
  const fedtiny::telemetry::ConsentRecord r = t->consent->record();
  out->granted = r.granted() ? 1 : 0;
  Copy(r.purpose(), out->purpose, sizeof(out->purpose));
  Copy(r.scope(), out->scope, sizeof(out->scope));
  Copy(r.version(), out->version, sizeof(out->version));
  out->time_unix_s = r.time_unix_s();
  return FEDTINY_OK;
}

fedtiny_status fedtiny_consent_withdraw(fedtiny_telemetry* t) {
  if (t == nullptr) return FEDTINY_INVALID_ARGUMENT;
  return Report(t, t->consent->Withdraw());
}

fedtiny_status fedtiny_consent_delete_with_data(fedtiny_telemetry* t) {
  if (t == nullptr) return FEDTINY_INVALID_ARGUMENT;
  return Report(t, t->consent->DeleteWithData());
}

int fedtiny_telemetry_recording(const fedtiny_telemetry* t) {
  return t != nullptr && t->recorder->enabled() ? 1 : 0;
}

int32_t fedtiny_telemetry_windows(const fedtiny_telemetry* t) {
  return t == nullptr ? 0
                      : static_cast<int32_t>(t->recorder->Summaries().size());
}

const char* fedtiny_telemetry_error(const fedtiny_telemetry* t) {
  if (t == nullptr) return "";
  absl::MutexLock lock(&t->mu);
  return t->error.c_str();
}

void fedtiny_telemetry_destroy(fedtiny_telemetry* t) { delete t; }

}  // extern "C"
