#include "client/transport/participant.h"
#include "client/platform/linux/status_bridge.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include <openssl/rand.h>

#include "absl/strings/str_cat.h"
#include "client/core/personalization.h"
#include "client/core/round.h"
#include "client/transport/model_proto.h"
#include "client/trust/refusal.h"
#include "client/platform/linux/linux_platform.h"
#include "proto/upload_delta.h"
#include "tools/base/update_codec.h"
#include "tools/base/atomic_file.h"
#include "tools/base/crypto/bundle_stream.h"
#include "tools/base/crypto/envelope.h"
#include "proto/trust.pb.h"

namespace fedtiny::client {

namespace {

// The device's secret from `path`, or a fresh random one written there (0600).
// When the file cannot be written, the secret lives as long as the process:
// the coordinator then refuses this id after a restart of the app, which is
// safer than a guessable fallback.
std::string LoadOrCreateSecret(const std::string& path) {
  absl::StatusOr<std::string> stored = ReadFile(path);
  if (stored.ok() && stored->size() >= 16 && stored->size() <= 64) return *stored;
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return "";  // The coordinator refuses an empty one.
  std::string secret(reinterpret_cast<const char*>(bytes), sizeof(bytes));
  (void)WriteFileAtomically(path, secret, 0600);
  return secret;
}

}  // namespace

Participant::Participant(DeviceProfile profile, const SessionOptions& session,
                         const DeviceState* state, std::string checkpoint_path)
    : profile_(std::move(profile)),
      session_(session),
      state_(state),
      job_(LinuxPlatform(), checkpoint_path, state) {
  if (profile_.device_secret.empty()) {
    profile_.device_secret = LoadOrCreateSecret(checkpoint_path + ".secret");
  }
  if (profile_.trust_root.empty()) return;
  const trust::WallClock& clock =
      profile_.trust_clock != nullptr ? *profile_.trust_clock : system_clock_;
  fetcher_ = std::make_unique<GrpcFetcher>(session_, clock);
  absl::StatusOr<std::unique_ptr<trust::Updater>> updater = trust::Updater::Create(
      LinuxPlatform().storage, checkpoint_path + ".trust", profile_.trust_root, *fetcher_, clock);
  if (updater.ok()) {
    updater_ = *std::move(updater);
  } else {
    trust_status_ = updater.status();
  }
}

TrustCost Participant::trust_cost() const {
  TrustCost c = cost_;
  if (fetcher_) {
    c.metadata_bytes = fetcher_->bytes_fetched();
    c.metadata_files = fetcher_->files_fetched();
  }
  return c;
}

absl::Status Participant::RefreshTrust() {
  if (profile_.trust_root.empty()) return absl::OkStatus();
  if (!updater_) return trust_status_;
  const absl::Time start = absl::Now();
  absl::Status s = updater_->Refresh();
  cost_.refresh_time += absl::Now() - start;
  ++cost_.refreshes;
  return s;
}

namespace {

absl::Status DecryptRefusal(absl::StatusCode code, absl::string_view why) {
  return absl::Status(code, absl::StrCat("trust:decrypt: ", why));
}

// The binding a bundle must carry: its own fields, whose target name the
// device checked against the signed target.
v1::BundleBinding BindingOf(const v1::ModelBundle& b) {
  v1::BundleBinding expected;
  expected.set_task(b.task());
  expected.set_cluster(std::to_string(b.cluster()));
  expected.set_model_version(b.version());
  expected.set_variant(b.variant());
  return expected;
}

}  // namespace

absl::StatusOr<v1::TargetInfo> Participant::SignedTargetOf(const v1::Assignment& a,
                                                           int index) const {
  const v1::ModelBundle& b = a.bundles(index);
  // The name says what the bundle is (task, cluster, variant, version): a
  // signed target of another model cannot stand in for this one.
  const std::string expected =
      absl::StrCat(b.task(), "/", b.cluster(), "/", b.variant(), "/", b.version());
  if (b.target_name() != expected) {
    return trust::Refusal(trust::RefusalReason::kUnknownTarget,
                          absl::StrCat("bundle names target '", b.target_name().substr(0, 128),
                                       "', expected '", expected, "'"));
  }
  absl::StatusOr<v1::TargetInfo> info = updater_->TrustedTarget(b.target_name());
  if (!info.ok()) return info.status();
  // The signed length bounds the download (endless data): a different size
  // is refused before a byte is fetched.
  if (b.size_bytes() < 0 || static_cast<uint64_t>(b.size_bytes()) != info->length()) {
    return trust::Refusal(trust::RefusalReason::kTargetLength,
                          absl::StrCat(b.target_name(), " is announced as ", b.size_bytes(),
                                       " bytes, trusted ", info->length()));
  }
  // Uptane's director: the variant this device class must run, when the
  // signed targets name one (the cluster stays the device's choice).
  absl::StatusOr<trust::NamedTarget> directed =
      updater_->DirectedTarget(absl::StrCat(b.task(), "/", profile_.device_class));
  if (directed.ok() && directed->info.variant() != b.variant()) {
    return trust::Refusal(trust::RefusalReason::kDirectiveMismatch,
                          absl::StrCat("class ", profile_.device_class, " is directed to the ",
                                       directed->info.variant(), " variant, given ",
                                       b.variant().substr(0, 32)));
  }
  if (!info->encrypted() && profile_.device_key != nullptr) {
    return DecryptRefusal(absl::StatusCode::kFailedPrecondition,
                          "the signed target is a plain bundle: refusing it, this device "
                          "requires encrypted bundles (no downgrade)");
  }
  return info;
}

absl::StatusOr<crypto::SecureBytes> Participant::ModelKeyOf(const v1::Assignment& a, int index) {
  if (profile_.device_key == nullptr) {
    return DecryptRefusal(absl::StatusCode::kFailedPrecondition,
                          "the bundle is encrypted but this device has no enrolled key");
  }
  if (a.wrapped_keys_size() != a.bundles_size()) {
    // A device that requires encryption never takes a plain bundle.
    return DecryptRefusal(absl::StatusCode::kFailedPrecondition,
                          "no wrapped model key for the bundle: refusing a plain (downgraded) bundle");
  }
  v1::WrappedKey wrapped;
  if (!wrapped.ParseFromString(a.wrapped_keys(index))) {
    return DecryptRefusal(absl::StatusCode::kDataLoss, "the wrapped model key is not a WrappedKey");
  }
  const absl::Time start = absl::Now();
  absl::StatusOr<crypto::SecureBytes> key =
      profile_.device_key->Unwrap(wrapped, BindingOf(a.bundles(index)));
  cost_.decrypt_time += absl::Now() - start;
  if (!key.ok()) {
    return DecryptRefusal(key.status().code(), absl::StrCat("model key: ", key.status().message()));
  }
  return key;
}

absl::StatusOr<crypto::SecureBytes> Participant::DecryptBundle(const v1::Assignment& a,
                                                              int index,
                                                              const std::string& bytes) {
  absl::StatusOr<crypto::SecureBytes> key = ModelKeyOf(a, index);
  if (!key.ok()) return key.status();
  v1::EncryptedBundle sealed;
  if (!sealed.ParseFromString(bytes)) {
    return DecryptRefusal(absl::StatusCode::kDataLoss, "the bundle is not an EncryptedBundle");
  }
  const absl::Time start = absl::Now();
  absl::StatusOr<crypto::SecureBytes> plain =
      crypto::DecryptBundle(*key, BindingOf(a.bundles(index)), sealed);
  cost_.decrypt_time += absl::Now() - start;
  cost_.decrypted_bytes += static_cast<int64_t>(bytes.size());
  if (!plain.ok()) return DecryptRefusal(plain.status().code(), plain.status().message());
  return plain;
}

absl::StatusOr<Participant::ModelBytes> Participant::FetchModel(const v1::Assignment& a,
                                                               int index, int64_t held_version) {
  auto prefixed = [](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat("download: ", s.message()));
  };
  const v1::ModelBundle& b = a.bundles(index);
  ModelBytes out;
  if (profile_.trust_root.empty()) {
    absl::StatusOr<std::string> bytes = session_.DownloadBundle(a, b, held_version);
    if (!bytes.ok()) return prefixed(bytes.status());
    if (a.wrapped_keys_size() == 0 && profile_.device_key == nullptr) {
      out.plain = *std::move(bytes);
      return out;
    }
    absl::StatusOr<crypto::SecureBytes> opened = DecryptBundle(a, index, *bytes);
    if (!opened.ok()) return opened.status();
    out.secret = *std::move(opened);
    return out;
  }
  if (!updater_) return trust_status_;
  absl::StatusOr<v1::TargetInfo> info = SignedTargetOf(a, index);
  if (!info.ok()) return info.status();
  if (!info->encrypted()) {
    // Hashed once, as it arrives: the digest serves the signed target too.
    absl::StatusOr<Sha256Digest> digest =
        session_.DownloadBundleTo(a, b, held_version, [&out](absl::string_view chunk) {
          out.plain.append(chunk.data(), chunk.size());
          return absl::OkStatus();
        });
    if (!digest.ok()) return prefixed(digest.status());
    const absl::Time start = absl::Now();
    absl::Status s =
        trust::Updater::MatchTarget(b.target_name(), *info, out.plain.size(), *digest);
    cost_.verify_time += absl::Now() - start;
    cost_.verified_bytes += static_cast<int64_t>(out.plain.size());
    if (!s.ok()) return s;
    return out;
  }
  // Encrypted: the key first, then the bundle hashed and decrypted as its
  // chunks arrive; the ciphertext is never held whole.
  absl::StatusOr<crypto::SecureBytes> key = ModelKeyOf(a, index);
  if (!key.ok()) return key.status();
  absl::StatusOr<crypto::BundleStreamOpener> opener =
      crypto::BundleStreamOpener::Start(*key, BindingOf(b), info->length());
  key->Wipe();
  if (!opener.ok()) return DecryptRefusal(opener.status().code(), opener.status().message());
  absl::Status decrypt_error;
  absl::Duration decrypt_time;
  absl::StatusOr<Sha256Digest> digest =
      session_.DownloadBundleTo(a, b, held_version, [&](absl::string_view chunk) {
        const absl::Time start = absl::Now();
        decrypt_error = opener->Update(chunk);
        decrypt_time += absl::Now() - start;
        return decrypt_error;
      });
  cost_.decrypt_time += decrypt_time;
  if (!decrypt_error.ok()) return DecryptRefusal(decrypt_error.code(), decrypt_error.message());
  if (!digest.ok()) return prefixed(digest.status());
  // After the last byte: the signed SHA-256 (hashed while downloading), then
  // the tag; only then is the plaintext handed out.
  const absl::Time start = absl::Now();
  absl::Status s = trust::Updater::MatchTarget(b.target_name(), *info, opener->received(), *digest);
  cost_.verify_time += absl::Now() - start;
  cost_.verified_bytes += static_cast<int64_t>(opener->received());
  if (!s.ok()) return s;
  const absl::Time finish = absl::Now();
  absl::StatusOr<crypto::SecureBytes> plain = opener->Finish();
  cost_.decrypt_time += absl::Now() - finish;
  cost_.decrypted_bytes += static_cast<int64_t>(info->length());
  if (!plain.ok()) return DecryptRefusal(plain.status().code(), plain.status().message());
  out.secret = *std::move(plain);
  return out;
}

RoundResult Participant::RunOnce(const RowMatrixXf& inputs, absl::Span<const int32_t> labels) {
  if (pending_) {
    // A copy: Participate() clears pending_ while it still reads the assignment.
    const v1::Assignment resume = *pending_;
    return Participate(resume, inputs, labels);
  }
  const DeviceStatus s = state_->Read();
  v1::CheckInRequest req;
  req.set_device_id(profile_.device_id);
  req.set_device_secret(profile_.device_secret);
  req.set_population(profile_.population);
  req.set_device_class(profile_.device_class);
  req.mutable_capabilities()->set_ram_bytes(profile_.ram_bytes);
  req.mutable_capabilities()->set_has_fpu(profile_.has_fpu);
  req.mutable_capabilities()->set_supports_int8(profile_.supports_int8);
  req.mutable_state()->set_charging(s.charging);
  req.mutable_state()->set_idle(s.idle);
  req.mutable_state()->set_unmetered_network(s.unmetered_network);
  req.mutable_state()->set_battery_percent(s.battery_percent);
  absl::StatusOr<v1::CheckInResponse> resp = session_.CheckIn(req);
  RoundResult r;
  if (!resp.ok()) {
    r.kind = RoundResult::Kind::kFailed;
    r.why = std::string(resp.status().message());
    r.status = resp.status();
    return r;
  }
  if (resp->has_retry()) {
    r.retry_after = session_.JitteredDelay(resp->retry());
    return r;
  }
  return Participate(resp->assignment(), inputs, labels);
}

RoundResult Participant::Participate(const v1::Assignment& a, const RowMatrixXf& inputs,
                                     absl::Span<const int32_t> labels) {
  RoundResult r;
  r.task = a.task();
  r.round = a.round();
  // Gives the round up: reports `why` to the server and returns it.
  auto fail = [&](const absl::Status& why) {
    r.kind = RoundResult::Kind::kFailed;
    r.why = std::string(why.message());
    r.status = why;
    pending_.reset();
    (void)job_.Abandon();
    v1::FailureReport report;
    report.set_task(a.task());
    report.set_round(a.round());
    report.set_upload_token(a.upload_token());
    report.set_reason(r.why.substr(0, 200));
    (void)session_.ReportFailure(report);
    return r;
  };
  auto prefixed = [](const char* what, const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat(what, s.message()));
  };
  // Every server number is checked before it sizes anything.
  if (absl::Status s = CheckPlan(a.plan()); !s.ok()) return fail(s);
  if (a.bundles_size() == 0) return fail(absl::InvalidArgumentError("assignment has no model"));
  if (absl::Status s = CheckBundles(a, profile_.limits); !s.ok()) return fail(s);
  std::vector<Head> heads;
  Body body;
  // The metadata first: nothing downloaded is loaded before it verifies.
  if (absl::Status s = RefreshTrust(); !s.ok()) return fail(s);
  for (int i = 0; i < a.bundles_size(); ++i) {
    const v1::ModelBundle& b = a.bundles(i);
    auto held = held_.find({a.task(), b.cluster()});
    absl::StatusOr<ModelBytes> fetched =
        FetchModel(a, i, held == held_.end() ? 0 : held->second);
    if (!fetched.ok()) return fail(fetched.status());
    const absl::string_view model_bytes = fetched->view();
    v1::Model model;
    if (!model.ParseFromArray(model_bytes.data(), static_cast<int>(model_bytes.size()))) {
      return fail(absl::DataLossError("download: bundle is not a Model"));
    }
    absl::StatusOr<Head> head = HeadFromProto(model);
    absl::StatusOr<Body> parsed_body = BodyFromProto(model);
    if (!head.ok()) return fail(prefixed("download: malformed model: ", head.status()));
    if (!parsed_body.ok()) {
      return fail(prefixed("download: malformed model: ", parsed_body.status()));
    }
    heads.push_back(*std::move(head));
    body = *std::move(parsed_body);
  }
  const int64_t examples = static_cast<int64_t>(labels.size());
  const TrainPlan plan = TrainPlanOf(a.plan(), profile_.device_id, a.round(), examples);
  if (absl::Status s = CheckWorkingSet(body, heads, std::max<int64_t>(examples, inputs.rows()),
                                       plan.batch_size, profile_.limits);
      !s.ok()) {
    return fail(s);
  }
  absl::StatusOr<RowMatrixXf> features = ToAbsl(body.Features(inputs));
  if (!features.ok()) return fail(features.status());
  const std::string job_prefix = absl::StrCat(a.task(), "/", a.round(), "/");
  absl::StatusOr<DeviceUpdate> update = ToAbsl(RunRound(
      heads, *features, labels, a.plan().clip_norm(),
      [&](int cluster, Head& head) -> StatusOr<LocalTraining> {
        absl::StatusOr<TrainOutcome> out =
            ToAbsl(job_.Run(absl::StrCat(job_prefix, cluster), head, plan, *features, labels));
        if (!out.ok()) return FromAbsl(prefixed("training: ", out.status()));
        head = out->head;
        return LocalTraining{out->completed, out->why_stopped, out->result};
      }));
  if (!update.ok()) return fail(update.status());
  r.cluster = update->cluster;
  if (!update->completed) {
    pending_ = a;
    r.kind = RoundResult::Kind::kPaused;
    r.why = update->why_stopped;
    return r;
  }
  pending_.reset();
  const v1::ModelBundle& bundle = a.bundles(r.cluster);
  v1::UploadRequest up;
  up.set_task(a.task());
  up.set_round(a.round());
  up.set_upload_token(a.upload_token());
  up.set_device_secret(profile_.device_secret);
  up.set_cluster(r.cluster);
  up.set_model_version(bundle.version());
  up.set_example_count(update->example_count);
  // Compressed when the assignment asks (docs/client.md); the noise seed only
  // has to differ per upload.
  SetUploadDelta(a, update->delta, CompressionSeed("noise", a.round(), a.upload_token()), up);
  double loss = 0;
  for (const auto& [name, value] : update->metrics) {
    (*up.mutable_metrics())[name] = value;
    if (name == "train_loss") loss = value;
  }
  absl::Status s = session_.Upload(up);
  if (!s.ok()) {
    r.kind = RoundResult::Kind::kFailed;
    r.why = absl::StrCat("upload: ", s.message());
    r.status = s;
    return r;
  }
  held_[{a.task(), r.cluster}] = bundle.version();
  r.kind = RoundResult::Kind::kUploaded;
  r.examples = update->example_count;
  r.loss = loss;
  return r;
}

}  // namespace fedtiny::client
