// Positive paths of the updater: first and later updates, what is fetched,
// rotations of root and role keys, thresholds, targets and directives,
// persistence and trusted time.
#include "client/trust/updater.h"

#include "client/trust/refusal.h"
#include "client/trust/testing/repository_simulator.h"
#include "client/trust/testing/updater_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::client::trust {
namespace {

using ::fedtiny::testing::IsOk;
using ::testing::ElementsAre;

class UpdaterTest : public testing::UpdaterFixture {};

TEST_F(UpdaterTest, FirstRefreshTrustsEveryRole) {
  EXPECT_EQ(RefusalReasonOf(updater_->VerifyTarget("model-v1", "model bytes v1")),
            RefusalReason::kNoTrustedTargets);
  ASSERT_THAT(updater_->Refresh(), IsOk());
  EXPECT_THAT(sim_->fetch_log(), ElementsAre("2.root.pb", "timestamp.pb",
                                             "snapshot.pb", "targets.pb"));
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_ROOT), 1u);
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_TIMESTAMP), 1u);
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_SNAPSHOT), 1u);
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_TARGETS), 1u);
  EXPECT_THAT(updater_->VerifyTarget("model-v1", "model bytes v1"), IsOk());
  absl::StatusOr<NamedTarget> directed = updater_->DirectedTarget("default");
  ASSERT_THAT(directed, IsOk());
  EXPECT_EQ(directed->name, "model-v1");
  EXPECT_EQ(directed->info.variant(), "float32");
  // The file holds exactly the trusted set.
  EXPECT_EQ(StoredBytes(), updater_->trusted().Serialize());
}

TEST_F(UpdaterTest, UnchangedRepositoryFetchesOnlyTimestamp) {
  ASSERT_THAT(updater_->Refresh(), IsOk());
  sim_->ClearFetchLog();
  ASSERT_THAT(updater_->Refresh(), IsOk());
  EXPECT_THAT(sim_->fetch_log(), ElementsAre("2.root.pb", "timestamp.pb"));
  // A new timestamp naming the same snapshot: still no snapshot fetch.
  clock_.Advance(absl::Hours(1));
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  sim_->ClearFetchLog();
  ASSERT_THAT(updater_->Refresh(), IsOk());
  EXPECT_THAT(sim_->fetch_log(), ElementsAre("2.root.pb", "timestamp.pb"));
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_TIMESTAMP), 2u);
}

TEST_F(UpdaterTest, NewTargetsAndDirectives) {
  ASSERT_THAT(updater_->Refresh(), IsOk());
  sim_->AddTarget("model-v2-int8", "int8 model v2", "int8");
  (*sim_->targets().mutable_directives())["cortex-m4"] = "model-v2-int8";
  ASSERT_THAT(sim_->PublishTargets(), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_TARGETS), 2u);
  EXPECT_THAT(updater_->VerifyTarget("model-v2-int8", "int8 model v2"), IsOk());
  absl::StatusOr<NamedTarget> m4 = updater_->DirectedTarget("cortex-m4");
  ASSERT_THAT(m4, IsOk());
  EXPECT_EQ(m4->name, "model-v2-int8");
  EXPECT_EQ(m4->info.variant(), "int8");
  absl::StatusOr<NamedTarget> other = updater_->DirectedTarget("default");
  ASSERT_THAT(other, IsOk());
  EXPECT_EQ(other->name, "model-v1");
}

TEST_F(UpdaterTest, TrustedSetSurvivesRestart) {
  ASSERT_THAT(sim_->PublishTargets(), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  const std::string stored = StoredBytes();
  updater_.reset();
  MakeUpdater();
  EXPECT_EQ(updater_->trusted().Serialize(), stored);
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_TARGETS), 2u);
  EXPECT_THAT(updater_->VerifyTarget("model-v1", "model bytes v1"), IsOk());
}

TEST_F(UpdaterTest, RootRotationThroughSeveralVersions) {
  ASSERT_THAT(updater_->Refresh(), IsOk());
  for (int i = 0; i < 3; ++i) {
    ASSERT_THAT(sim_->ReplaceKeys(v1::ROLE_TYPE_ROOT), IsOk());
    ASSERT_THAT(sim_->PublishRoot(), IsOk());
  }
  sim_->ClearFetchLog();
  ASSERT_THAT(updater_->Refresh(), IsOk());
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_ROOT), 4u);
  EXPECT_THAT(sim_->fetch_log(),
              ElementsAre("2.root.pb", "3.root.pb", "4.root.pb", "5.root.pb",
                          "timestamp.pb"));
}

TEST_F(UpdaterTest, DeviceFarBehindCatchesUpOverSeveralRefreshes) {
  ASSERT_THAT(updater_->Refresh(), IsOk());
  // 40 root versions, each with a new root key and the last with a new
  // timestamp key: more than one refresh may walk (max_root_rotations, 32).
  for (int i = 0; i < 40; ++i) {
    ASSERT_THAT(sim_->ReplaceKeys(v1::ROLE_TYPE_ROOT), IsOk());
    if (i == 39) ASSERT_THAT(sim_->ReplaceKeys(v1::ROLE_TYPE_TIMESTAMP), IsOk());
    ASSERT_THAT(sim_->PublishRoot(), IsOk());
  }
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  const uint64_t timestamp_before = TrustedVersion(v1::ROLE_TYPE_TIMESTAMP);
  absl::Status first = updater_->Refresh();
  EXPECT_EQ(RefusalReasonOf(first), RefusalReason::kEndlessData) << first;
  // The 32 verified roots are kept, on disk too; the roles are untouched.
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_ROOT), 33u);
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_TIMESTAMP), timestamp_before);
  MakeUpdater();  // A restart in between: the progress was stored.
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_ROOT), 33u);
  ASSERT_THAT(updater_->Refresh(), IsOk());
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_ROOT), 41u);
  EXPECT_GT(TrustedVersion(v1::ROLE_TYPE_TIMESTAMP), 0u);  // Under the new timestamp key.
}

TEST_F(UpdaterTest, TimestampKeyRotationRefetchesEverything) {
  ASSERT_THAT(updater_->Refresh(), IsOk());
  ASSERT_THAT(sim_->ReplaceKeys(v1::ROLE_TYPE_TIMESTAMP), IsOk());
  ASSERT_THAT(sim_->PublishRoot(), IsOk());
  ASSERT_THAT(sim_->PublishTimestamp(), IsOk());
  sim_->ClearFetchLog();
  ASSERT_THAT(updater_->Refresh(), IsOk());
  EXPECT_THAT(sim_->fetch_log(),
              ElementsAre("2.root.pb", "3.root.pb", "timestamp.pb",
                          "snapshot.pb", "targets.pb"));
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_ROOT), 2u);
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_TIMESTAMP), 2u);
}

TEST_F(UpdaterTest, ThresholdTwoOfThree) {
  SetUpRepository(/*root_keys=*/3, /*root_threshold=*/2);
  ASSERT_THAT(sim_->AddKey(v1::ROLE_TYPE_TARGETS), IsOk());
  ASSERT_THAT(sim_->AddKey(v1::ROLE_TYPE_TARGETS), IsOk());
  sim_->RoleKeysOf(v1::ROLE_TYPE_TARGETS).set_threshold(2);
  ASSERT_THAT(sim_->PublishRoot(), IsOk());
  // Two of the three targets keys sign.
  const auto& ids = sim_->RoleKeysOf(v1::ROLE_TYPE_TARGETS).key_ids();
  sim_->SetSigners(v1::ROLE_TYPE_TARGETS, {ids[0], ids[2]});
  ASSERT_THAT(sim_->PublishTargets(), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_ROOT), 2u);
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_TARGETS), 2u);
  // A root signed by two of the three root keys (and the old root's two).
  const auto& root_ids = sim_->RoleKeysOf(v1::ROLE_TYPE_ROOT).key_ids();
  sim_->SetSigners(v1::ROLE_TYPE_ROOT, {root_ids[1], root_ids[2]});
  ASSERT_THAT(sim_->PublishRoot(), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_ROOT), 3u);
}

TEST_F(UpdaterTest, TrustedTimeIsLaterOfClockAndTimestamp) {
  ASSERT_THAT(updater_->Refresh(), IsOk());
  const absl::Time issued = absl::FromUnixSeconds(kStart);
  EXPECT_EQ(updater_->TrustedTime(), issued);
  clock_.Set(absl::UnixEpoch());  // a device whose clock was reset
  EXPECT_EQ(updater_->TrustedTime(), issued);
  clock_.Set(issued + absl::Hours(1));
  EXPECT_EQ(updater_->TrustedTime(), issued + absl::Hours(1));
}

TEST_F(UpdaterTest, FailedCommitKeepsOldSetThenRecovers) {
  ASSERT_THAT(updater_->Refresh(), IsOk());
  ASSERT_THAT(sim_->PublishTargets(), IsOk());
  storage_.set_fail_writes(true);
  ExpectRefused(RefusalReason::kStorage);
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_TARGETS), 1u);
  storage_.set_fail_writes(false);
  ASSERT_THAT(updater_->Refresh(), IsOk());
  EXPECT_EQ(TrustedVersion(v1::ROLE_TYPE_TARGETS), 2u);
}

TEST_F(UpdaterTest, CorruptStoredSetIsRefusedNotReplaced) {
  ASSERT_THAT(updater_->Refresh(), IsOk());
  std::string bytes = StoredBytes();
  bytes[bytes.size() / 2] ^= 0x40;
  ASSERT_THAT(WriteFileAtomically(path_, bytes), IsOk());
  auto updater = Updater::Create(storage_, path_, sim_->initial_root(), *sim_,
                                 clock_, options_);
  EXPECT_EQ(RefusalReasonOf(updater.status()), RefusalReason::kStorage)
      << updater.status();
  EXPECT_EQ(StoredBytes(), bytes);
}

}  // namespace
}  // namespace fedtiny::client::trust
