// One device taking part in federated rounds through the real transport: check
// in, download and verify the bundles, pick the cluster head with the lowest
// local loss, train the head while eligible (TrainingJob: checkpoint, resume),
// and upload the delta with its metrics, or report the failure.
#ifndef FEDTINY_CLIENT_TRANSPORT_PARTICIPANT_H_
#define FEDTINY_CLIENT_TRANSPORT_PARTICIPANT_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "client/core/eligibility.h"
#include "client/core/model.h"
#include "client/core/training_job.h"
#include "client/transport/limits.h"
#include "client/transport/metadata_fetcher.h"
#include "client/transport/session.h"
#include "client/trust/device_key.h"
#include "client/trust/updater.h"
#include "client/trust/wall_clock.h"
#include "tools/base/crypto/secure_bytes.h"

namespace fedtiny::client {

struct DeviceProfile {
  std::string device_id;
  std::string population;
  std::string device_class = "phone";
  int64_t ram_bytes = int64_t{4} << 30;
  bool has_fpu = true;
  bool supports_int8 = true;
  DeviceLimits limits;  // Assignments beyond these are refused and reported.
  // The secret that binds device_id at the coordinator (16-64 bytes). Empty: the
  // participant keeps a random one in `<checkpoint_path>.secret` (mode 0600),
  // created at first use, so the id stays usable across restarts.
  std::string device_secret;
  // Model trust (docs/security.md). Non-empty: the device requires it. It
  // trusts this signed root at first (shipped with it, or from Enroll), keeps
  // its trusted set in `<checkpoint_path>.trust`, refreshes the metadata before
  // each round's downloads and verifies every bundle against its signed
  // target before loading it. A refusal fails the round and is reported to the
  // server as "trust:<reason>: <detail>".
  std::string trust_root;
  // The clock metadata expiries are checked against; null: the system's.
  const trust::WallClock* trust_clock = nullptr;
  // Encrypted bundles (docs/security.md): the key this device enrolled with.
  // Non-null: the device requires every bundle encrypted and its model key
  // wrapped to this key, and refuses a plain one (no downgrade) with
  // "trust:decrypt: ...". Null: plain bundles only. The decrypted model lives
  // only in memory (crypto::SecureBytes), never on disk.
  std::shared_ptr<trust::DeviceKeyStore> device_key;
};

// What model trust cost this device so far (the simulator's per-class figures).
struct TrustCost {
  int64_t metadata_bytes = 0;   // Fetched through GetMetadata.
  int64_t metadata_files = 0;
  int64_t refreshes = 0;
  absl::Duration refresh_time;  // Fetching and verifying metadata.
  // Checking downloaded bundles against their signed targets (the SHA-256
  // itself runs as the chunks arrive, in the download).
  absl::Duration verify_time;
  int64_t verified_bytes = 0;
  absl::Duration decrypt_time;  // Unwrapping model keys and decrypting bundles.
  int64_t decrypted_bytes = 0;  // Encrypted bundle bytes opened.
};

struct RoundResult {
  enum class Kind { kRetry, kUploaded, kPaused, kFailed } kind = Kind::kRetry;
  absl::Duration retry_after;   // kRetry: when to check in again (jittered).
  std::string task;
  int64_t round = 0;
  int cluster = 0;
  int64_t examples = 0;
  double loss = 0;
  std::string why;              // kPaused / kFailed.
  // kFailed: the cause. kInvalidArgument for a plan outside the documented
  // ranges, kResourceExhausted for an assignment beyond the device's limits,
  // kDataLoss for a bundle that fails verification, or the server's code.
  absl::Status status;
};

// Owns its session; borrows the DeviceState. Not thread-safe.
class Participant {
 public:
  Participant(DeviceProfile profile, const SessionOptions& session, const DeviceState* state,
              std::string checkpoint_path);

  // One attempt: check in and, if admitted, take part. `inputs` are the
  // device's raw examples (rows of the model's input width) and their labels.
  // A pause (device no longer eligible) keeps the checkpoint: call again to
  // resume the same assignment before its deadline. Errors from the network or
  // the server come back as kFailed with the reason reported to the server.
  RoundResult RunOnce(const RowMatrixXf& inputs, absl::Span<const int32_t> labels);

  // Model versions this device holds, per (task, cluster): it refuses older ones.
  const std::map<std::pair<std::string, int>, int64_t>& held_versions() const { return held_; }
  // What model trust cost so far (zeros without trust_root).
  TrustCost trust_cost() const;

 private:
  RoundResult Participate(const v1::Assignment& a, const RowMatrixXf& inputs,
                          absl::Span<const int32_t> labels);
  // Updates the trusted metadata (OK without trust_root): a Refusal.
  absl::Status RefreshTrust();
  // The model bytes of one bundle: as downloaded (`plain`), or decrypted in
  // memory only (`secret`).
  struct ModelBytes {
    std::string plain;
    std::optional<crypto::SecureBytes> secret;
    absl::string_view view() const { return secret ? secret->view() : absl::string_view(plain); }
  };
  // FetchModel downloads the `index`th bundle of `a` and returns its model
  // bytes, verified and, when encrypted, decrypted. With trust_root the
  // signed target comes first, before any byte is fetched: its name, length,
  // directive (the variant this class must run) and encryption flag are
  // checked, an encrypted one is hashed and decrypted while it downloads
  // (tools/base/crypto/bundle_stream.h), and nothing is handed out before the
  // signed SHA-256 and the GCM tag both verified. Errors: a Refusal,
  // "trust:decrypt: ..." (envelope.h's codes) or "download: ...".
  absl::StatusOr<ModelBytes> FetchModel(const v1::Assignment& a, int index, int64_t held_version);
  // The signed target of the `index`th bundle of `a`, checked as FetchModel
  // says (with trust_root only).
  absl::StatusOr<v1::TargetInfo> SignedTargetOf(const v1::Assignment& a, int index) const;
  // The model key of the `index`th bundle of `a`, unwrapped with the
  // device's key for the bundle's binding.
  absl::StatusOr<crypto::SecureBytes> ModelKeyOf(const v1::Assignment& a, int index);
  // Opens the `index`th bundle of `a` (downloaded whole as `bytes`) with its
  // wrapped key: the path without trust_root.
  absl::StatusOr<crypto::SecureBytes> DecryptBundle(const v1::Assignment& a, int index,
                                                    const std::string& bytes);

  DeviceProfile profile_;  // device_secret filled in by the constructor.
  FederationSession session_;
  const DeviceState* state_;
  TrainingJob job_;
  std::optional<v1::Assignment> pending_;  // Paused assignment to resume.
  std::map<std::pair<std::string, int>, int64_t> held_;
  // Model trust, when required: the updater reads through fetcher_.
  trust::SystemWallClock system_clock_;
  std::unique_ptr<GrpcFetcher> fetcher_;
  std::unique_ptr<trust::Updater> updater_;
  absl::Status trust_status_;  // Why updater_ could not be made.
  TrustCost cost_;
};

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_TRANSPORT_PARTICIPANT_H_
