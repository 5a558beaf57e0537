// The user's consent to telemetry (docs/observability.md, "Consent"): off by
// default. The app grants it with the purpose, scope and version of the text
// the user agreed to; the user can view it, withdraw it (recording and export
// stop at once; the windows stay on the device, viewable) or delete it with
// the data (the recorded windows and the stored record are erased). The
// record is a fedtiny.telemetry.ConsentRecord kept on the device only,
// written atomically with mode 0600 (PrivateFileStorage).
//
// The recorder follows the consent: Open, Grant, Withdraw and DeleteWithData
// set its enabled flag. A stored record that does not parse counts as no
// consent (fail closed).
//
// Thread-safe. Borrows the storage, the clock and the recorder, which must
// outlive it.
#ifndef FEDTINY_CLIENT_TELEMETRY_CONSENT_H_
#define FEDTINY_CLIENT_TELEMETRY_CONSENT_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/core/platform.h"
#include "client/telemetry/recorder.h"
#include "proto/telemetry.pb.h"
#include "tools/base/clock.h"

namespace fedtiny::client::telemetry {

class Consent {
 public:
  // Open loads the record at `path` (absent: not granted). kInternal on a
  // storage error other than a missing file. Blocks on storage.
  static absl::StatusOr<std::unique_ptr<Consent>> Open(
      Storage& storage, std::string path, const ::fedtiny::Clock& clock,
      Recorder& recorder);

  // Grant records the user's consent to the text of `version` (time: now)
  // and starts recording. kInvalidArgument for an empty purpose, scope or
  // version; kInternal if it cannot be stored (then nothing changes). Blocks.
  absl::Status Grant(const std::string& purpose, const std::string& scope,
                     const std::string& version);
  // Withdraw stops recording and export, then stores the record as withdrawn
  // (time: now). kInternal if it cannot be stored: recording stays stopped
  // for this process either way. Blocks.
  absl::Status Withdraw();
  // DeleteWithData stops recording, erases the recorded windows and removes
  // the stored record. kInternal if the file cannot be removed (the windows
  // are erased anyway). The privacy budget's file stays: it holds no data
  // about the user, and erasing it would let a device spend a day's budget
  // twice. Blocks.
  absl::Status DeleteWithData();

  // The record as the user sees it (granted = false and empty fields when
  // there is none).
  [[nodiscard]] fedtiny::telemetry::ConsentRecord record() const;
  [[nodiscard]] bool granted() const;

 private:
  Consent(Storage& storage, std::string path, const ::fedtiny::Clock& clock,
          Recorder& recorder)
      : storage_(storage),
        path_(std::move(path)),
        clock_(clock),
        recorder_(recorder) {}

  Storage& storage_;
  const std::string path_;
  const ::fedtiny::Clock& clock_;
  Recorder& recorder_;
  mutable absl::Mutex mu_;
  fedtiny::telemetry::ConsentRecord record_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedtiny::client::telemetry

#endif  // FEDTINY_CLIENT_TELEMETRY_CONSENT_H_
