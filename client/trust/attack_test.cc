// One scenario per attack class of TUF and Uptane, driven against the
// repository simulator: each is refused with its specific reason, and the
// trusted set (the file's bytes and the updater's memory) is unchanged.
#include "client/trust/refusal.h"
#include "client/trust/testing/repository_simulator.h"
#include "client/trust/testing/updater_fixture.h"
#include "client/trust/updater.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::client::trust {
namespace {

using ::fedtiny::testing::IsOk;
using testing::Sha256Bytes;

class AttackTest : public testing::UpdaterFixture {
 protected:
  // Every scenario starts from a device that trusts a first full set.
  void SetUp() override {
    UpdaterFixture::SetUp();
    ASSERT_THAT(updater_->Refresh(), IsOk());
  }
  // A copy of the served files, to replay later.
  std::map<std::string, std::string> Saved() { return sim_->files(); }
};

// --- Arbitrary installation ------------------------------------------------

TEST_F(AttackTest, ArbitraryInstallTargetsSignedByUnknownKey) {
  absl::StatusOr<std::string> attacker = sim_->NewKey();
  ASSERT_THAT(attacker, IsOk());
  sim_->SetSigners(v1::ROLE_TYPE_TARGETS, {*attacker});
  sim_->AddTarget("evil", "evil model");
  ASSERT_THAT(sim_->PublishTargets(), IsOk());
  ExpectRefused(RefusalReason::kSignatureThreshold);
  EXPECT_EQ(RefusalReasonOf(updater_->VerifyTarget("evil", "evil model")),
            RefusalReason::kUnknownTarget);
}

TEST_F(AttackTest, ArbitraryInstallUnsignedTimestamp) {
  absl::StatusOr<std::string> unsigned_ts = sim_->Sign(sim_->timestamp(), {});
  ASSERT_THAT(unsigned_ts, IsOk());
  sim_->files()[kTimestampPath] = *unsigned_ts;
  ExpectRefused(RefusalReason::kSignatureThreshold);
}

TEST_F(AttackTest, ArbitraryInstallRoleBytesChangedAfterSigning) {
  // The attacker edits the signed targets and makes snapshot and timestamp
  // name the edited bytes (as if it held those online keys): the targets
  // signature no longer covers the bytes.
  v1::Signed envelope;
  ASSERT_TRUE(envelope.ParseFromString(sim_->files()[kTargetsPath]));
  v1::Targets targets;
  ASSERT_TRUE(targets.ParseFromString(envelope.role_bytes()));
  (*targets.mutable_targets())["model-v1"].set_sha256(Sha256Bytes("evil"));
  targets.set_version(2);
  envelope.set_role_bytes(targets.SerializeAsString());
  const std::string edited = envelope.SerializeAsString();
  sim_->files()[kTargetsPath] = edited;
  sim_->snapshot().set_targets_version(2);
  sim_->snapshot().set_targets_length(edited.size());
  sim_->snapshot().set_targets_sha256(Sha256Bytes(edited));
  ASSERT_THAT(sim_->PublishSnapshot(), IsOk());
  ExpectRefused(RefusalReason::kSignatureThreshold);
}

TEST_F(AttackTest, MalformedMetadata) {
  sim_->files()[kTimestampPath] = "\xff\xff not a protobuf";
  ExpectRefused(RefusalReason::kMalformed);
}

TEST_F(AttackTest, CrossRoleSubstitution) {
  // One online key signs both snapshot and timestamp; the snapshot's bytes
  // are served as the timestamp.
  const std::string snapshot_key =
      sim_->RoleKeysOf(v1::ROLE_TYPE_SNAPSHOT).key_ids(0);
  sim_->RoleKeysOf(v1::ROLE_TYPE_TIMESTAMP).add_key_ids(snapshot_key);
  ASSERT_THAT(sim_->PublishRoot(), IsOk());
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  sim_->files()[kTimestampPath] = sim_->files()[kSnapshotPath];
  ExpectRefused(RefusalReason::kWrongRole);
}

// --- Wrong-length and wrong-hash targets -------------------------------------

TEST_F(AttackTest, WrongLengthTarget) {
  EXPECT_EQ(RefusalReasonOf(updater_->VerifyTarget("model-v1", "model bytes v1!")),
            RefusalReason::kTargetLength);
  EXPECT_EQ(RefusalReasonOf(updater_->VerifyTarget("model-v1", "")),
            RefusalReason::kTargetLength);
}

TEST_F(AttackTest, WrongHashTarget) {
  EXPECT_EQ(RefusalReasonOf(updater_->VerifyTarget("model-v1", "model bytes v2")),
            RefusalReason::kTargetHash);
}

TEST_F(AttackTest, UnknownTargetAndDirective) {
  EXPECT_EQ(RefusalReasonOf(updater_->VerifyTarget("model-v9", "x")),
            RefusalReason::kUnknownTarget);
  EXPECT_EQ(RefusalReasonOf(updater_->DirectedTarget("toaster").status()),
            RefusalReason::kNoDirective);
}

TEST_F(AttackTest, WrongLengthSnapshot) {
  ASSERT_THAT(sim_->PublishSnapshot(), IsOk());
  std::string& snapshot = sim_->files()[kSnapshotPath];
  snapshot.pop_back();  // shorter than the timestamp names
  ExpectRefused(RefusalReason::kLengthMismatch);
}

TEST_F(AttackTest, WrongHashTargetsMetadata) {
  ASSERT_THAT(sim_->PublishTargets(), IsOk());
  std::string& targets = sim_->files()[kTargetsPath];
  targets[targets.size() - 1] ^= 1;  // same length, another hash
  ExpectRefused(RefusalReason::kHashMismatch);
}

// --- Rollback ------------------------------------------------------------------

TEST_F(AttackTest, RollbackToOlderMetadata) {
  const auto old = Saved();
  ASSERT_THAT(sim_->PublishTargets(), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  sim_->files() = old;
  ExpectRefused(RefusalReason::kRollback);
}

TEST_F(AttackTest, RollbackOfSnapshotNamedByTimestamp) {
  const auto old = Saved();
  ASSERT_THAT(sim_->PublishTargets(), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  // A newer timestamp that names the older snapshot.
  sim_->files()[kSnapshotPath] = old.at(kSnapshotPath);
  sim_->timestamp().set_snapshot_version(1);
  sim_->timestamp().set_snapshot_length(old.at(kSnapshotPath).size());
  sim_->timestamp().set_snapshot_sha256(Sha256Bytes(old.at(kSnapshotPath)));
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  ExpectRefused(RefusalReason::kRollback);
}

TEST_F(AttackTest, RollbackOfTargetsNamedBySnapshot) {
  const auto old = Saved();
  ASSERT_THAT(sim_->PublishTargets(), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  // A newer snapshot that names the older targets.
  sim_->files()[kTargetsPath] = old.at(kTargetsPath);
  sim_->snapshot().set_targets_version(1);
  sim_->snapshot().set_targets_length(old.at(kTargetsPath).size());
  sim_->snapshot().set_targets_sha256(Sha256Bytes(old.at(kTargetsPath)));
  ASSERT_THAT(sim_->PublishSnapshot(), IsOk());
  ExpectRefused(RefusalReason::kRollback);
}

TEST_F(AttackTest, TimestampIssuedBeforeTrusted) {
  // A newer timestamp version issued earlier would pull trusted time back.
  clock_.Advance(absl::Hours(1));
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  clock_.Set(absl::FromUnixSeconds(kStart));
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  ExpectRefused(RefusalReason::kRollback);
}

TEST_F(AttackTest, RollbackOfRoot) {
  ASSERT_THAT(sim_->PublishRoot(), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  // Root 1 (same keys, so validly signed) served as root 3.
  sim_->files()["3.root.pb"] = sim_->files()["1.root.pb"];
  ExpectRefused(RefusalReason::kRootVersionGap);
}

TEST_F(AttackTest, RootVersionsMustBeSequential) {
  ASSERT_THAT(sim_->PublishRoot(), IsOk());
  ASSERT_THAT(sim_->PublishRoot(), IsOk());
  // Root 3 served in place of root 2: skipping a version is refused.
  sim_->files()["2.root.pb"] = sim_->files()["3.root.pb"];
  sim_->files().erase("3.root.pb");
  ExpectRefused(RefusalReason::kRootVersionGap);
}

// --- Fast-forward ----------------------------------------------------------------

TEST_F(AttackTest, FastForwardByKeyBelowThreshold) {
  absl::StatusOr<std::string> attacker = sim_->NewKey();
  ASSERT_THAT(attacker, IsOk());
  sim_->SetSigners(v1::ROLE_TYPE_TIMESTAMP, {*attacker});
  sim_->timestamp().set_version(1u << 30);
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  ExpectRefused(RefusalReason::kSignatureThreshold);
}

TEST_F(AttackTest, FastForwardOfSnapshotVersion) {
  // The timestamp names a far-future snapshot version, but the snapshot it
  // hashes says otherwise.
  sim_->timestamp().set_snapshot_version(1u << 30);
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  ExpectRefused(RefusalReason::kMixAndMatch);
}

TEST_F(AttackTest, FastForwardRecoveredByTimestampKeyRotation) {
  // With the timestamp key itself, an attacker pushes the version far ahead:
  // the device cannot tell, and then refuses the repository's real ones.
  const uint64_t real = sim_->timestamp().version();
  sim_->timestamp().set_version(1u << 30);
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  sim_->timestamp().set_version(real);
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  ExpectRefused(RefusalReason::kRollback);
  // Recovery (TUF 5.3.11): a root rotating the timestamp key makes the device
  // forget the fast-forwarded timestamp.
  ASSERT_THAT(sim_->ReplaceKeys(v1::ROLE_TYPE_TIMESTAMP), IsOk());
  ASSERT_THAT(sim_->PublishRoot(), IsOk());
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_TIMESTAMP), real + 2);
}

TEST_F(AttackTest, FastForwardOfIssueTimeRecoveredByTimestampKeyRotation) {
  // A timestamp dated five days ahead (a forged issue time signed with a
  // stolen timestamp key, or a repository clock gone wrong) is within every
  // other role's lifetime, so the device trusts it and its time floor jumps.
  const absl::Time forged = absl::FromUnixSeconds(kStart) + absl::Hours(24 * 5);
  clock_.Set(forged);
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  clock_.Set(absl::FromUnixSeconds(kStart) + absl::Minutes(1));
  ASSERT_THAT(updater_->Refresh(), IsOk());
  EXPECT_EQ(updater_->TrustedTime(), forged);
  // Every real timestamp is now issued "in the past": refused.
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  ExpectRefused(RefusalReason::kRollback);
  // Recovery (TUF 5.3.11): the root rotates the timestamp key. The forged
  // issue time goes with the forgotten timestamp (were it kept, the new
  // timestamp, valid one day, would look expired for four more days).
  ASSERT_THAT(sim_->ReplaceKeys(v1::ROLE_TYPE_TIMESTAMP), IsOk());
  ASSERT_THAT(sim_->PublishRoot(), IsOk());
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  EXPECT_EQ(updater_->TrustedTime(), clock_.Now());
  EXPECT_EQ(updater_->trusted().timestamp()->role.issued_unix_s(),
            absl::ToUnixSeconds(clock_.Now()));
}

// --- Indefinite freeze and expiry ---------------------------------------------

TEST_F(AttackTest, IndefiniteFreeze) {
  // A mirror keeps serving the same (validly signed) metadata; the device's
  // clock moves past the timestamp's expiry.
  clock_.Advance(absl::Hours(25));
  ExpectRefused(RefusalReason::kExpired);
}

TEST_F(AttackTest, FreezeWithDeviceClockBehind) {
  // The repository re-signed only the timestamp for 40 days; a device whose
  // clock was reset still knows the time from that timestamp, and refuses the
  // snapshot that expired after 7 days.
  clock_.Advance(absl::Hours(24 * 40));
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  clock_.Set(absl::FromUnixSeconds(kStart));
  ExpectRefused(RefusalReason::kExpired);
}

TEST_F(AttackTest, ExpiredRoot) {
  sim_->SetLifetime(v1::ROLE_TYPE_ROOT, absl::Hours(1));
  ASSERT_THAT(sim_->PublishRoot(), IsOk());
  clock_.Advance(absl::Hours(2));
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  ExpectRefused(RefusalReason::kExpired);
}

TEST_F(AttackTest, ExpiredTimestamp) {
  sim_->SetLifetime(v1::ROLE_TYPE_TIMESTAMP, absl::ZeroDuration());
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  ExpectRefused(RefusalReason::kExpired);
}

TEST_F(AttackTest, ExpiredSnapshot) {
  sim_->SetLifetime(v1::ROLE_TYPE_SNAPSHOT, absl::Hours(1));
  ASSERT_THAT(sim_->PublishSnapshot(), IsOk());
  clock_.Advance(absl::Hours(2));
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  ExpectRefused(RefusalReason::kExpired);
}

TEST_F(AttackTest, ExpiredTargets) {
  sim_->SetLifetime(v1::ROLE_TYPE_TARGETS, absl::Hours(1));
  ASSERT_THAT(sim_->PublishTargets(), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  clock_.Advance(absl::Hours(2));
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  ExpectRefused(RefusalReason::kExpired);
  // Nor are its targets installed any more.
  EXPECT_EQ(RefusalReasonOf(updater_->VerifyTarget("model-v1", "model bytes v1")),
            RefusalReason::kExpired);
}

// --- Mix-and-match ---------------------------------------------------------------

TEST_F(AttackTest, MixAndMatchTargetsOfAnotherSnapshot) {
  const std::string old_targets = sim_->files()[kTargetsPath];
  ASSERT_THAT(sim_->PublishTargets(), IsOk());
  // A snapshot that names targets 2 by version only, and targets 1 served.
  sim_->snapshot().clear_targets_length();
  sim_->snapshot().clear_targets_sha256();
  ASSERT_THAT(sim_->PublishSnapshot(), IsOk());
  sim_->files()[kTargetsPath] = old_targets;
  ExpectRefused(RefusalReason::kMixAndMatch);
}

// --- Endless data and slow retrieval ---------------------------------------------

TEST_F(AttackTest, EndlessTimestamp) {
  sim_->files()[kTimestampPath] = std::string(1 << 20, 'x');
  ExpectRefused(RefusalReason::kEndlessData);
}

TEST_F(AttackTest, EndlessRootFromHostileFetcher) {
  // Even a fetcher that ignores the bound cannot make the device take it.
  sim_->set_ignore_max_bytes(true);
  sim_->files()["2.root.pb"] = std::string(1 << 20, 'x');
  ExpectRefused(RefusalReason::kEndlessData);
}

TEST_F(AttackTest, EndlessSnapshotNamedByTimestamp) {
  sim_->timestamp().set_snapshot_length(1ull << 40);
  sim_->timestamp().set_snapshot_version(2);
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  ExpectRefused(RefusalReason::kEndlessData);
}

TEST_F(AttackTest, SlowRetrieval) {
  sim_->set_fetch_delay(options_.fetch_timeout + absl::Seconds(1));
  ExpectRefused(RefusalReason::kSlowRetrieval);
}

// --- Compromised keys below threshold and root rotation ------------------------

TEST_F(AttackTest, CompromisedKeyBelowThreshold) {
  SetUpRepository(/*root_keys=*/3, /*root_threshold=*/2);
  ASSERT_THAT(sim_->AddKey(v1::ROLE_TYPE_TARGETS), IsOk());
  ASSERT_THAT(sim_->AddKey(v1::ROLE_TYPE_TARGETS), IsOk());
  sim_->RoleKeysOf(v1::ROLE_TYPE_TARGETS).set_threshold(2);
  ASSERT_THAT(sim_->PublishRoot(), IsOk());
  ASSERT_THAT(sim_->PublishTargets(), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  // One stolen targets key, signing twice, plus a key of the attacker's.
  const std::string stolen = sim_->RoleKeysOf(v1::ROLE_TYPE_TARGETS).key_ids(0);
  absl::StatusOr<std::string> attacker = sim_->NewKey();
  ASSERT_THAT(attacker, IsOk());
  sim_->SetSigners(v1::ROLE_TYPE_TARGETS, {stolen, stolen, *attacker});
  sim_->AddTarget("evil", "evil model");
  ASSERT_THAT(sim_->PublishTargets(), IsOk());
  ExpectRefused(RefusalReason::kSignatureThreshold);
}

TEST_F(AttackTest, CompromisedRootKeyBelowThreshold) {
  SetUpRepository(/*root_keys=*/3, /*root_threshold=*/2);
  ASSERT_THAT(updater_->Refresh(), IsOk());
  // One stolen root key publishes a root that trusts only the attacker.
  const std::string stolen = sim_->RoleKeysOf(v1::ROLE_TYPE_ROOT).key_ids(0);
  sim_->RoleKeysOf(v1::ROLE_TYPE_ROOT).clear_key_ids();
  sim_->RoleKeysOf(v1::ROLE_TYPE_ROOT).add_key_ids(stolen);
  sim_->RoleKeysOf(v1::ROLE_TYPE_ROOT).set_threshold(1);
  sim_->SetSigners(v1::ROLE_TYPE_ROOT, {stolen});
  ASSERT_THAT(sim_->PublishRoot(), IsOk());
  ExpectRefused(RefusalReason::kSignatureThreshold);
}

TEST_F(AttackTest, RotatedRootNotSignedByOldRoot) {
  absl::StatusOr<std::string> fresh = sim_->ReplaceKeys(v1::ROLE_TYPE_ROOT);
  ASSERT_THAT(fresh, IsOk());
  sim_->SetSigners(v1::ROLE_TYPE_ROOT, {*fresh});
  ASSERT_THAT(sim_->PublishRoot(), IsOk());
  ExpectRefused(RefusalReason::kSignatureThreshold);
}

TEST_F(AttackTest, RotatedRootNotSignedByItself) {
  const std::string old_key = sim_->RoleKeysOf(v1::ROLE_TYPE_ROOT).key_ids(0);
  ASSERT_THAT(sim_->ReplaceKeys(v1::ROLE_TYPE_ROOT), IsOk());
  sim_->SetSigners(v1::ROLE_TYPE_ROOT, {old_key});
  ASSERT_THAT(sim_->PublishRoot(), IsOk());
  ExpectRefused(RefusalReason::kSignatureThreshold);
}

TEST_F(AttackTest, RootWithZeroThreshold) {
  sim_->RoleKeysOf(v1::ROLE_TYPE_TARGETS).set_threshold(0);
  ASSERT_THAT(sim_->PublishRoot(), IsOk());
  ExpectRefused(RefusalReason::kMalformed);
}

TEST_F(AttackTest, MissingMetadata) {
  sim_->files().erase(kTimestampPath);
  ExpectRefused(RefusalReason::kFetchFailed);
}

}  // namespace
}  // namespace fedtiny::client::trust
