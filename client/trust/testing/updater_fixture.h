// A GoogleTest fixture for client/trust tests: a fake clock, a repository
// simulator, the device's trusted-set file under TEST_TMPDIR (real atomic
// writes through the Linux platform's storage) and an Updater over them.
#ifndef FEDTINY_CLIENT_TRUST_TESTING_UPDATER_FIXTURE_H_
#define FEDTINY_CLIENT_TRUST_TESTING_UPDATER_FIXTURE_H_

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/core/platform.h"
#include "client/platform/linux/linux_platform.h"
#include "client/trust/refusal.h"
#include "client/trust/testing/repository_simulator.h"
#include "client/trust/updater.h"
#include "client/trust/wall_clock.h"
#include "gtest/gtest.h"
#include "tools/base/atomic_file.h"

namespace fedtiny::client::trust::testing {

// A storage whose writes can be made to fail (a crash or a full disk).
// Not thread-safe; borrows the storage it wraps.
class FaultyStorage final : public Storage {
 public:
  explicit FaultyStorage(Storage& base) : base_(base) {}
  void set_fail_writes(bool fail) { fail_writes_ = fail; }
  StatusOr<std::string> ReadFile(const std::string& path) override {
    return base_.ReadFile(path);
  }
  Status WriteFileAtomically(const std::string& path,
                             std::string_view contents) override {
    if (fail_writes_) return Status(StatusCode::kInternal, "injected write failure");
    return base_.WriteFileAtomically(path, contents);
  }
  Status Remove(const std::string& path) override { return base_.Remove(path); }
  bool Exists(const std::string& path) override { return base_.Exists(path); }

 private:
  Storage& base_;
  bool fail_writes_ = false;
};

class UpdaterFixture : public ::testing::Test {
 protected:
  // 2026-01-01T00:00:00Z.
  static constexpr int64_t kStart = 1767225600;

  void SetUp() override { SetUpRepository(1, 1); }

  // Replaces the repository (root keys and threshold) and the device.
  void SetUpRepository(int root_keys, int root_threshold) {
    const char* dir = std::getenv("TEST_TMPDIR");
    const ::testing::TestInfo* info =
        ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = absl::StrCat(dir != nullptr ? dir : "/tmp", "/", info->name(),
                         ".trusted");
    std::remove(path_.c_str());
    auto sim = RepositorySimulator::Create(&clock_, root_keys, root_threshold);
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = *std::move(sim);
    MakeUpdater();
  }

  void MakeUpdater() {
    auto updater = Updater::Create(storage_, path_, sim_->initial_root(), *sim_,
                                   clock_, options_);
    ASSERT_TRUE(updater.ok()) << updater.status();
    updater_ = *std::move(updater);
  }

  std::string StoredBytes() const {
    absl::StatusOr<std::string> bytes = ReadFile(path_);
    return bytes.ok() ? *bytes : std::string("<missing>");
  }

  // Refreshes expecting `reason`, and checks that the stored set and the
  // trusted versions did not change.
  void ExpectRefused(RefusalReason reason) {
    const std::string before = StoredBytes();
    const std::string trusted_before = updater_->trusted().Serialize();
    absl::Status s = updater_->Refresh();
    EXPECT_EQ(RefusalReasonOf(s), reason)
        << "expected trust:" << RefusalReasonName(reason) << ", got " << s;
    EXPECT_EQ(StoredBytes(), before) << "the stored trusted set changed";
    EXPECT_EQ(updater_->trusted().Serialize(), trusted_before)
        << "the in-memory trusted set changed";
  }

  uint64_t TrustedVersion(v1::RoleType role) const {
    TrustedMetadata m = updater_->trusted();
    switch (role) {
      case v1::ROLE_TYPE_ROOT:
        return m.root().role.version();
      case v1::ROLE_TYPE_TIMESTAMP:
        return m.timestamp() ? m.timestamp()->role.version() : 0;
      case v1::ROLE_TYPE_SNAPSHOT:
        return m.snapshot() ? m.snapshot()->role.version() : 0;
      default:
        return m.targets() ? m.targets()->role.version() : 0;
    }
  }

  FakeWallClock clock_{absl::FromUnixSeconds(kStart)};
  FaultyStorage storage_{LinuxPlatform().storage};
  UpdaterOptions options_;
  std::string path_;
  std::unique_ptr<RepositorySimulator> sim_;
  std::unique_ptr<Updater> updater_;
};

}  // namespace fedtiny::client::trust::testing

#endif  // FEDTINY_CLIENT_TRUST_TESTING_UPDATER_FIXTURE_H_
