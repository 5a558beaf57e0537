#include "client/trust/updater.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/platform/linux/status_bridge.h"
#include "client/trust/metadata.h"
#include "client/trust/refusal.h"
#include "client/trust/update_cycle.h"
#include "tools/base/sha256.h"

namespace fedtiny::client::trust {
namespace {

absl::Status StorageRefusal(absl::string_view what, const absl::Status& s) {
  return Refusal(RefusalReason::kStorage, absl::StrCat(what, ": ", s.message()));
}

}  // namespace

Updater::Updater(Storage& storage, std::string path, Fetcher& fetcher,
                 const WallClock& clock, UpdaterOptions options,
                 TrustedMetadata trusted)
    : storage_(storage),
      path_(std::move(path)),
      fetcher_(fetcher),
      clock_(clock),
      options_(options),
      trusted_(std::move(trusted)) {}

absl::StatusOr<std::unique_ptr<Updater>> Updater::Create(
    Storage& storage, std::string path, absl::string_view initial_root,
    Fetcher& fetcher, const WallClock& clock, UpdaterOptions options) {
  absl::StatusOr<std::string> stored = ToAbsl(storage.ReadFile(path));
  absl::StatusOr<TrustedMetadata> trusted;
  if (stored.ok()) {
    trusted = TrustedMetadata::Parse(*stored);
  } else if (stored.status().code() == absl::StatusCode::kNotFound) {
    trusted = TrustedMetadata::FromInitialRoot(initial_root);
    if (trusted.ok()) {
      absl::Status s =
          ToAbsl(storage.WriteFileAtomically(path, trusted->Serialize()));
      if (!s.ok()) return StorageRefusal("writing the initial root", s);
    }
  } else {
    return StorageRefusal("reading the trusted set", stored.status());
  }
  if (!trusted.ok()) return trusted.status();
  return std::unique_ptr<Updater>(new Updater(storage, std::move(path), fetcher,
                                              clock, options,
                                              *std::move(trusted)));
}

absl::Status Updater::Refresh() {
  absl::MutexLock lock(&mu_);
  UpdateCycle cycle(trusted_, fetcher_, clock_, options_);
  absl::Status s = cycle.Run();
  if (!s.ok() && !cycle.roots_pending()) return s;
  const absl::Status refusal = s;
  TrustedMetadata updated = std::move(cycle).result();
  // Written before it is used: if the write fails, memory keeps the old set
  // too, and the next refresh starts again from it.
  s = ToAbsl(storage_.WriteFileAtomically(path_, updated.Serialize()));
  if (!s.ok()) return StorageRefusal("committing the trusted set", s);
  trusted_ = std::move(updated);
  return refusal;  // OK, or the verified roots kept and more to come.
}

absl::StatusOr<const Verified<v1::Targets>*> Updater::CurrentTargets() const {
  const auto& targets = trusted_.targets();
  if (!targets) {
    return Refusal(RefusalReason::kNoTrustedTargets, "no verified targets yet");
  }
  const absl::Time now = std::max(clock_.Now(), trusted_.TimeFloor());
  absl::Status s =
      CheckNotExpired(absl::StrCat("targets ", targets->role.version()),
                      targets->role.expires_unix_s(), now);
  if (!s.ok()) return s;
  return &*targets;
}

absl::Status Updater::VerifyTarget(absl::string_view name,
                                   absl::string_view bytes) const {
  absl::StatusOr<v1::TargetInfo> info = TrustedTarget(name);
  if (!info.ok()) return info.status();
  absl::StatusOr<Sha256Digest> digest = Sha256(bytes);
  if (!digest.ok()) return digest.status();
  return MatchTarget(name, *info, bytes.size(), *digest);
}

absl::StatusOr<v1::TargetInfo> Updater::TrustedTarget(absl::string_view name) const {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<const Verified<v1::Targets>*> targets = CurrentTargets();
  if (!targets.ok()) return targets.status();
  const auto& all = (*targets)->role.targets();
  auto it = all.find(std::string(name));
  if (it == all.end()) {
    return Refusal(RefusalReason::kUnknownTarget,
                   absl::StrCat("no target ", name));
  }
  return it->second;
}

absl::Status Updater::MatchTarget(absl::string_view name, const v1::TargetInfo& info,
                                  uint64_t length, const Sha256Digest& digest) {
  if (length != info.length()) {
    return Refusal(RefusalReason::kTargetLength,
                   absl::StrCat(name, " is ", length, " bytes, trusted ",
                                info.length()));
  }
  if (std::string(digest.begin(), digest.end()) != info.sha256()) {
    return Refusal(RefusalReason::kTargetHash,
                   absl::StrCat(name, " does not match its trusted SHA-256"));
  }
  return absl::OkStatus();
}

absl::StatusOr<NamedTarget> Updater::DirectedTarget(
    absl::string_view device_class) const {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<const Verified<v1::Targets>*> targets = CurrentTargets();
  if (!targets.ok()) return targets.status();
  const v1::Targets& role = (*targets)->role;
  auto it = role.directives().find(std::string(device_class));
  if (it == role.directives().end()) {
    return Refusal(RefusalReason::kNoDirective,
                   absl::StrCat("no target directed to class ", device_class));
  }
  // ParseTargets checked that every directive names a target.
  return NamedTarget{it->second, role.targets().at(it->second)};
}

absl::Time Updater::TrustedTime() const {
  absl::MutexLock lock(&mu_);
  return std::max(clock_.Now(), trusted_.TimeFloor());
}

TrustedMetadata Updater::trusted() const {
  absl::MutexLock lock(&mu_);
  return trusted_;
}

}  // namespace fedtiny::client::trust
