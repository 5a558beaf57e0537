// Fuzzes model-trust metadata on the device (client/trust): the parsers of
// every role and of the stored trusted set, and the update cycle that checks
// them, against a fixed repository (tests/fuzz/trust_repository.h) whose
// device already trusts version 1 of every role.
//
// Input: [mode: uint8][clock: int16 hours from the repository's now]
// [record: 2.root.pb][record: timestamp.pb][record: snapshot.pb]
// [record: targets.pb][record: a downloaded target]. An empty record is a
// file the repository does not have. Mode bit 0: the records are role bytes,
// which the harness signs with the right role's key (so mutations reach the
// checks behind the signatures); bit 1: with bit 0, it also writes the signed
// snapshot's and targets' lengths and hashes into the timestamp and snapshot
// (so they reach the version checks); bit 2: the first record is the stored
// trusted set the device starts from; bit 3: the device starts from its
// initial root only.
//
// Invariants: a refresh succeeds, or is refused with a trust reason and leaves
// the stored set byte for byte unchanged; after a success the file holds
// exactly the trusted set, which parses again, no role's version went back
// (unless the root rotated that role's keys), the trusted time did not go
// back, and nothing trusted is expired; VerifyTarget and DirectedTarget answer
// OK or a trust reason; a stored set that parses re-serializes to one that
// parses the same.
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "client/trust/metadata.h"
#include "client/trust/refusal.h"
#include "client/trust/trusted_metadata.h"
#include "client/trust/updater.h"
#include "client/trust/wall_clock.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/trust_repository.h"
#include "tools/base/sha256.h"

namespace fedtiny::fuzz {
namespace {

using client::trust::RefusalReason;
using client::trust::RefusalReasonOf;
using client::trust::TrustedMetadata;

constexpr char kPath[] = "trusted";

std::string Digest(const std::string& bytes) {
  absl::StatusOr<Sha256Digest> d = Sha256(bytes);
  return d.ok() ? std::string(d->begin(), d->end()) : std::string();
}

bool IsTrustReason(const absl::Status& s) {
  const RefusalReason r = RefusalReasonOf(s);
  return r != RefusalReason::kNone && r != RefusalReason::kUnknown;
}

// Signs (and, if asked, links) the records as the repository would.
void SignRecords(std::string (&rec)[4], bool link) {
  const TrustRepo& repo = TrustRepo::Get();
  if (!rec[0].empty()) rec[0] = repo.Sign(v1::ROLE_TYPE_ROOT, rec[0]);
  if (!rec[3].empty()) rec[3] = repo.Sign(v1::ROLE_TYPE_TARGETS, rec[3]);
  v1::Snapshot snap;
  if (link && !rec[2].empty() && snap.ParseFromString(rec[2])) {
    snap.set_targets_length(rec[3].size());
    snap.set_targets_sha256(Digest(rec[3]));
    rec[2] = snap.SerializeAsString();
  }
  if (!rec[2].empty()) rec[2] = repo.Sign(v1::ROLE_TYPE_SNAPSHOT, rec[2]);
  v1::Timestamp ts;
  if (link && !rec[1].empty() && ts.ParseFromString(rec[1])) {
    ts.set_snapshot_length(rec[2].size());
    ts.set_snapshot_sha256(Digest(rec[2]));
    rec[1] = ts.SerializeAsString();
  }
  if (!rec[1].empty()) rec[1] = repo.Sign(v1::ROLE_TYPE_TIMESTAMP, rec[1]);
}

void FuzzStoredSet(const std::string& bytes) {
  absl::StatusOr<TrustedMetadata> m = TrustedMetadata::Parse(bytes);
  MemoryStorage storage;
  storage.files[kPath] = bytes;
  MapFetcher fetcher;
  client::trust::FakeWallClock clock(absl::FromUnixSeconds(kTrustNow));
  auto updater = client::trust::Updater::Create(
      storage, kPath, TrustRepo::Get().initial_root(), fetcher, clock);
  FUZZ_CHECK(m.ok() == updater.ok()) << m.status() << " / " << updater.status();
  if (!m.ok()) {
    FUZZ_CHECK(RefusalReasonOf(m.status()) == RefusalReason::kStorage)
        << m.status();
    FUZZ_CHECK(storage.files[kPath] == bytes) << "a corrupt set was replaced";
    return;
  }
  absl::StatusOr<TrustedMetadata> again = TrustedMetadata::Parse(m->Serialize());
  FUZZ_CHECK_OK(again);
  FUZZ_CHECK(again->Serialize() == m->Serialize());
}

uint64_t VersionOf(const TrustedMetadata& m, v1::RoleType role) {
  switch (role) {
    case v1::ROLE_TYPE_TIMESTAMP:
      return m.timestamp() ? m.timestamp()->role.version() : 0;
    case v1::ROLE_TYPE_SNAPSHOT:
      return m.snapshot() ? m.snapshot()->role.version() : 0;
    default:
      return m.targets() ? m.targets()->role.version() : 0;
  }
}

void CheckCommitted(const TrustedMetadata& prior, const TrustedMetadata& now,
                    const std::string& stored, absl::Time trusted_time) {
  FUZZ_CHECK(stored == now.Serialize()) << "the file is not the trusted set";
  FUZZ_CHECK_OK(TrustedMetadata::Parse(stored));
  FUZZ_CHECK(now.root().role.version() >= prior.root().role.version());
  const v1::Root& a = prior.root().role;
  const v1::Root& b = now.root().role;
  const bool rotated = !client::trust::SameRoleKeys(a.timestamp(), b.timestamp()) ||
                       !client::trust::SameRoleKeys(a.snapshot(), b.snapshot()) ||
                       !client::trust::SameRoleKeys(a.targets(), b.targets());
  if (!rotated) {
    for (v1::RoleType role : {v1::ROLE_TYPE_TIMESTAMP, v1::ROLE_TYPE_SNAPSHOT,
                              v1::ROLE_TYPE_TARGETS}) {
      FUZZ_CHECK(VersionOf(now, role) >= VersionOf(prior, role))
          << client::trust::RoleName(role) << " went back";
    }
    FUZZ_CHECK(now.TimeFloor() >= prior.TimeFloor()) << "trusted time went back";
  }
  FUZZ_CHECK(now.timestamp() && now.snapshot() && now.targets());
  for (int64_t expires :
       {now.root().role.expires_unix_s(), now.timestamp()->role.expires_unix_s(),
        now.snapshot()->role.expires_unix_s(),
        now.targets()->role.expires_unix_s()}) {
    FUZZ_CHECK(absl::FromUnixSeconds(expires) > trusted_time)
        << "an expired role was trusted";
  }
}

void FuzzRefresh(uint8_t mode, int16_t hours, std::string (&rec)[4],
                 const std::string& target) {
  if (mode & 1) SignRecords(rec, (mode & 2) != 0);
  MemoryStorage storage;
  if (!(mode & 8)) storage.files[kPath] = TrustRepo::Get().baseline_set();
  MapFetcher fetcher;
  const char* paths[] = {"2.root.pb", "timestamp.pb", "snapshot.pb", "targets.pb"};
  for (int i = 0; i < 4; ++i) {
    if (!rec[i].empty()) fetcher.files[paths[i]] = rec[i];
  }
  client::trust::FakeWallClock clock(absl::FromUnixSeconds(kTrustNow) +
                                     absl::Hours(hours));
  auto updater = client::trust::Updater::Create(
      storage, kPath, TrustRepo::Get().initial_root(), fetcher, clock);
  FUZZ_CHECK_OK(updater);
  const std::string before = storage.files[kPath];
  const TrustedMetadata prior = (*updater)->trusted();
  absl::Status s = (*updater)->Refresh();
  if (!s.ok()) {
    FUZZ_CHECK(IsTrustReason(s)) << "a refusal without a reason: " << s;
    FUZZ_CHECK(storage.files[kPath] == before) << "refused, yet stored: " << s;
  } else {
    CheckCommitted(prior, (*updater)->trusted(), storage.files[kPath],
                   (*updater)->TrustedTime());
  }
  absl::Status v = (*updater)->VerifyTarget(kTrustTargetName, target);
  FUZZ_CHECK(v.ok() || IsTrustReason(v)) << v;
  auto directed = (*updater)->DirectedTarget("default");
  FUZZ_CHECK(directed.ok() || IsTrustReason(directed.status()))
      << directed.status();
}

}  // namespace
}  // namespace fedtiny::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedtiny::fuzz;
  FuzzInput in(data, size);
  const uint8_t mode = in.Take<uint8_t>();
  const int16_t hours = in.Take<int16_t>();
  std::string rec[4];
  for (std::string& r : rec) r = in.Record();
  const std::string target = in.Record();
  if (mode & 4) {
    FuzzStoredSet(rec[0]);
  } else {
    FuzzRefresh(mode, hours, rec, target);
  }
  return 0;
}
