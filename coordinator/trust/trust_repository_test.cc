// The coordinator's repository, checked by the device's own Updater: bundles
// signed as targets, restart with monotonic versions, the timestamp re-signed
// before it expires, and a release-key rotation (a root operation) picked up.
#include "coordinator/trust/trust_repository.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/platform/linux/linux_platform.h"
#include "client/trust/refusal.h"
#include "client/trust/signing.h"
#include "client/trust/updater.h"
#include "client/trust/wall_clock.h"
#include "coordinator/bundle_cache.h"
#include "coordinator/clock.h"
#include "coordinator/trust/key_dir.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::coordinator {
namespace {

namespace ct = client::trust;
using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
constexpr int64_t kStart = 1767225600;  // 2026-01-01

// Serves a repository to the updater, as GetMetadata does.
class RepoFetcher final : public ct::Fetcher {
 public:
  explicit RepoFetcher(const TrustRepository** repo) : repo_(repo) {}
  absl::StatusOr<std::string> Fetch(const std::string& path, size_t max_bytes,
                                    absl::Time) override {
    absl::StatusOr<std::string> data = (*repo_)->Get(path);
    if (data.ok() && data->size() > max_bytes) data->resize(max_bytes + 1);
    return data;
  }

 private:
  const TrustRepository** repo_;
};

std::shared_ptr<Bundle> MakeBundle(const std::string& task, int cluster, const std::string& variant,
                                   int64_t version, const std::string& bytes) {
  auto b = std::make_shared<Bundle>();
  b->bytes = bytes;
  b->meta.set_task(task);
  b->meta.set_cluster(cluster);
  b->meta.set_version(version);
  b->meta.set_variant(variant);
  b->meta.set_sha256(ct::Sha256Raw(bytes));
  b->meta.set_target_name(TargetNameOf(task, cluster, variant, version));
  return b;
}

class TrustRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(tmp ? tmp : "/tmp", "/",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::system(absl::StrCat("rm -rf ", dir_).c_str());
    ASSERT_THAT(InitKeyDir(dir_ + "/keys", clock_.Now()).status(), IsOk());
    Reopen();
    auto updater = ct::Updater::Create(client::LinuxPlatform().storage, dir_ + "/device.trust",
                                       repo_->Get("1.root.pb").value(), fetcher_, device_clock_);
    ASSERT_THAT(updater.status(), IsOk());
    updater_ = *std::move(updater);
  }

  void Reopen() {
    repo_.reset();
    TrustRepository::Options o;
    o.trust_dir = dir_ + "/keys";
    o.state_path = dir_ + "/trust.pb";
    auto repo = TrustRepository::Open(o, &clock_);
    ASSERT_THAT(repo.status(), IsOk());
    repo_ = *std::move(repo);
    served_ = repo_.get();
  }

  void Advance(absl::Duration d) {
    clock_.Advance(d);
    device_clock_.Advance(d);
  }

  BundleMap Bundles(int64_t version) {
    BundleMap m;
    for (const char* variant : {"float32", "int8"}) {
      m[{0, variant}] = MakeBundle("task", 0, variant, version,
                                   absl::StrCat("model ", variant, " v", version));
    }
    return m;
  }

  std::string dir_;
  FakeClock clock_{absl::FromUnixSeconds(kStart)};
  ct::FakeWallClock device_clock_{absl::FromUnixSeconds(kStart)};
  std::unique_ptr<TrustRepository> repo_;
  const TrustRepository* served_ = nullptr;
  RepoFetcher fetcher_{&served_};
  std::unique_ptr<ct::Updater> updater_;
};

TEST_F(TrustRepositoryTest, SignsPublishedBundlesForTheDevice) {
  const BundleMap v1 = Bundles(1);
  ASSERT_THAT(repo_->Publish("task", v1, {}), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  for (const auto& [key, b] : v1) {
    EXPECT_THAT(updater_->VerifyTarget(b->meta.target_name(), b->bytes), IsOk());
  }
  EXPECT_EQ(ct::RefusalReasonOf(updater_->VerifyTarget("task/0/float32/1", "tampered")),
            ct::RefusalReason::kTargetLength);
  absl::StatusOr<ct::NamedTarget> directed = updater_->DirectedTarget("*");
  ASSERT_THAT(directed.status(), IsOk());
  EXPECT_EQ(directed->name, "task/0/float32/1");

  // A new version replaces the task's targets; the old one is no longer trusted.
  ASSERT_THAT(repo_->Publish("task", Bundles(2), {}), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  EXPECT_THAT(updater_->VerifyTarget("task/0/float32/2", "model float32 v2"), IsOk());
  EXPECT_EQ(ct::RefusalReasonOf(updater_->VerifyTarget("task/0/float32/1", "model float32 v1")),
            ct::RefusalReason::kUnknownTarget);
}

TEST_F(TrustRepositoryTest, DirectsEachClassToItsVariantAndFlagsEncryption) {
  BundleMap v1 = Bundles(1);
  auto sealed = std::make_shared<Bundle>(*v1.at({0, "int8"}));
  sealed->sealed = "ciphertext of the int8 model";  // What an encrypted bundle serves.
  sealed->meta.set_sha256(ct::Sha256Raw(sealed->sealed));
  v1[{0, "int8"}] = sealed;
  ASSERT_THAT(repo_->Publish("task", v1, {{"mcu-m4", "int8"}, {"phone", "float32"}}), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  absl::StatusOr<ct::NamedTarget> mcu = updater_->DirectedTarget("task/mcu-m4");
  ASSERT_THAT(mcu.status(), IsOk());
  EXPECT_EQ(mcu->name, "task/0/int8/1");
  EXPECT_EQ(mcu->info.variant(), "int8");
  EXPECT_TRUE(mcu->info.encrypted());
  EXPECT_EQ(mcu->info.length(), sealed->sealed.size());
  absl::StatusOr<ct::NamedTarget> phone = updater_->DirectedTarget("task/phone");
  ASSERT_THAT(phone.status(), IsOk());
  EXPECT_EQ(phone->name, "task/0/float32/1");
  EXPECT_FALSE(phone->info.encrypted());
  EXPECT_EQ(ct::RefusalReasonOf(updater_->DirectedTarget("task/toaster").status()),
            ct::RefusalReason::kNoDirective);
  // The task's next publish replaces its directives: a class no longer
  // directed loses its entry; another task's stay.
  BundleMap other;
  for (const char* variant : {"float32", "int8"}) {
    other[{0, variant}] = MakeBundle("other", 0, variant, 1, absl::StrCat("other ", variant));
  }
  ASSERT_THAT(repo_->Publish("other", other, {{"phone", "int8"}}), IsOk());
  ASSERT_THAT(repo_->Publish("task", Bundles(2), {{"phone", "int8"}}), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  EXPECT_EQ(ct::RefusalReasonOf(updater_->DirectedTarget("task/mcu-m4").status()),
            ct::RefusalReason::kNoDirective);
  EXPECT_EQ(updater_->DirectedTarget("task/phone")->name, "task/0/int8/2");
  EXPECT_EQ(updater_->DirectedTarget("other/phone")->info.task(), "other");
  EXPECT_EQ(updater_->DirectedTarget("*")->name, "task/0/float32/2");
}

TEST_F(TrustRepositoryTest, RestartKeepsTargetsAndVersionsGrow) {
  ASSERT_THAT(repo_->Publish("task", Bundles(1), {}), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  const uint64_t targets = repo_->targets().version(), stamp = repo_->timestamp().version();
  Reopen();
  EXPECT_GT(repo_->targets().version(), targets);
  EXPECT_GT(repo_->timestamp().version(), stamp);
  EXPECT_EQ(repo_->targets().targets_size(), 2);
  ASSERT_THAT(updater_->Refresh(), IsOk());
  EXPECT_THAT(updater_->VerifyTarget("task/0/int8/1", "model int8 v1"), IsOk());
  // Publishing what is published already signs nothing new.
  const uint64_t now_targets = repo_->targets().version();
  ASSERT_THAT(repo_->Publish("task", Bundles(1), {}), IsOk());
  EXPECT_EQ(repo_->targets().version(), now_targets);
}

TEST_F(TrustRepositoryTest, TimestampReSignedBeforeItExpires) {
  ASSERT_THAT(repo_->Publish("task", Bundles(1), {}), IsOk());
  const uint64_t stamp = repo_->timestamp().version();
  Advance(absl::Hours(6));
  ASSERT_THAT(repo_->Tick(), IsOk());
  EXPECT_EQ(repo_->timestamp().version(), stamp);  // Not yet half its lifetime.
  for (int h = 0; h < 24 * 40; ++h) {              // Forty days of ticks.
    Advance(absl::Hours(1));
    ASSERT_THAT(repo_->Tick(), IsOk());
  }
  EXPECT_GT(repo_->timestamp().version(), stamp);
  ASSERT_THAT(updater_->Refresh(), IsOk());  // Nothing the device sees expired.
  EXPECT_THAT(updater_->VerifyTarget("task/0/float32/1", "model float32 v1"), IsOk());
}

TEST_F(TrustRepositoryTest, RotatedReleaseKeyIsPickedUpByTheDevice) {
  ASSERT_THAT(repo_->Publish("task", Bundles(1), {}), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  absl::StatusOr<std::string> id = RotateKey(dir_ + "/keys", v1::ROLE_TYPE_TARGETS, clock_.Now());
  ASSERT_THAT(id.status(), IsOk());
  Reopen();  // The coordinator restarts with the new root and key.
  ASSERT_THAT(updater_->Refresh(), IsOk());
  EXPECT_EQ(updater_->trusted().root().role.version(), 2u);
  EXPECT_EQ(updater_->trusted().root().role.targets().key_ids(0), *id);
  EXPECT_THAT(updater_->VerifyTarget("task/0/float32/1", "model float32 v1"), IsOk());
}

TEST_F(TrustRepositoryTest, RootRotationAndRevocationAreFollowedInOrder) {
  ASSERT_THAT(repo_->Publish("task", Bundles(1), {}), IsOk());
  ASSERT_THAT(updater_->Refresh(), IsOk());
  const std::string keys = dir_ + "/keys";
  ASSERT_THAT(RotateKey(keys, v1::ROLE_TYPE_ROOT, clock_.Now()).status(), IsOk());
  const std::string stamp_key = LoadKeyDir(keys)->root.timestamp().key_ids(0);
  ASSERT_THAT(RevokeKey(keys, stamp_key, clock_.Now()), IsOk());
  Reopen();
  ASSERT_THAT(updater_->Refresh(), IsOk());
  EXPECT_EQ(updater_->trusted().root().role.version(), 3u);
  EXPECT_NE(updater_->trusted().root().role.timestamp().key_ids(0), stamp_key);
  EXPECT_THAT(updater_->VerifyTarget("task/0/int8/1", "model int8 v1"), IsOk());
}

TEST_F(TrustRepositoryTest, UnknownPathsAreNotFound) {
  for (const char* path : {"0.root.pb", "2.root.pb", "../trust.pb", "01.root.pb", "x"}) {
    EXPECT_THAT(repo_->Get(path).status(), StatusIs(absl::StatusCode::kNotFound)) << path;
  }
}

}  // namespace
}  // namespace fedtiny::coordinator
