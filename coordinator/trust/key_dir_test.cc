// The operator's trust directory: what init writes (and with which modes),
// rotations and revocations as root versions (which a device accepts:
// trust_repository_test), and enrollments that survive a reopen.
#include "coordinator/trust/key_dir.h"

#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "coordinator/trust/enrollments.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::coordinator {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
const absl::Time kNow = absl::FromUnixSeconds(1767225600);

std::string Dir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string d = absl::StrCat(tmp ? tmp : "/tmp", "/",
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::system(absl::StrCat("rm -rf ", d).c_str());
  return d;
}

int ModeOf(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : -1;
}

TEST(KeyDirTest, InitWritesSecretsOwnerOnlyAndRefusesASecondInit) {
  const std::string d = Dir();
  absl::StatusOr<KeyDir> kd = InitKeyDir(d, kNow);
  ASSERT_THAT(kd.status(), IsOk());
  EXPECT_EQ(kd->root.version(), 1u);
  EXPECT_EQ(kd->offline.size(), 1u);
  EXPECT_EQ(kd->online.size(), 3u);
  for (const auto& [id, key] : kd->online) EXPECT_EQ(ModeOf(d + "/online/" + id + ".pem"), 0600);
  for (const auto& [id, key] : kd->offline) EXPECT_EQ(ModeOf(d + "/offline/" + id + ".pem"), 0600);
  EXPECT_EQ(ModeOf(d + "/offline"), 0700);
  EXPECT_THAT(InitKeyDir(d, kNow).status(), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(kd->KeysFor(v1::ROLE_TYPE_TARGETS).status(), IsOk());
}

TEST(KeyDirTest, RotationsAndRevocationsAreNewRootVersions) {
  const std::string d = Dir();
  ASSERT_THAT(InitKeyDir(d, kNow).status(), IsOk());
  ASSERT_THAT(RotateKey(d, v1::ROLE_TYPE_ROOT, kNow).status(), IsOk());
  absl::StatusOr<std::string> release = RotateKey(d, v1::ROLE_TYPE_TARGETS, kNow);
  ASSERT_THAT(release.status(), IsOk());
  ASSERT_THAT(RevokeKey(d, *release, kNow), IsOk());  // The role gets a new key.
  EXPECT_THAT(RevokeKey(d, "no-such-key", kNow), StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<KeyDir> kd = LoadKeyDir(d);
  ASSERT_THAT(kd.status(), IsOk());
  EXPECT_EQ(kd->root.version(), 4u);
  EXPECT_EQ(kd->root.targets().key_ids_size(), 1);
  EXPECT_NE(kd->root.targets().key_ids(0), *release);
  EXPECT_FALSE(kd->online.count(*release));  // Its private key is gone.
  EXPECT_EQ(kd->offline.size(), 1u);         // The replaced root key too.
  EXPECT_THAT(kd->KeysFor(v1::ROLE_TYPE_TARGETS).status(), IsOk());

}

TEST(EnrollmentsTest, KeysSurviveAReopenAndAnotherKeyIsRefused) {
  const std::string d = Dir();
  mkdir(d.c_str(), 0700);
  absl::StatusOr<crypto::EcPrivateKey> a = crypto::EcPrivateKey::Generate();
  absl::StatusOr<crypto::EcPrivateKey> b = crypto::EcPrivateKey::Generate();
  ASSERT_TRUE(a.ok() && b.ok());
  {
    auto e = Enrollments::Open(d + "/enrolled.pb");
    ASSERT_THAT(e.status(), IsOk());
    ASSERT_THAT((*e)->Enroll("dev-1", a->public_key().spki_der()), IsOk());
    EXPECT_THAT((*e)->Enroll("dev-1", a->public_key().spki_der()), IsOk());
    EXPECT_THAT((*e)->Enroll("dev-1", b->public_key().spki_der()),
                StatusIs(absl::StatusCode::kAlreadyExists));
    EXPECT_THAT((*e)->Enroll("dev-2", "not a key"), StatusIs(absl::StatusCode::kInvalidArgument));
  }
  auto e = Enrollments::Open(d + "/enrolled.pb");
  ASSERT_THAT(e.status(), IsOk());
  EXPECT_EQ((*e)->size(), 1u);
  EXPECT_EQ((*e)->PublicKeyOf("dev-1"), a->public_key().spki_der());
}

}  // namespace
}  // namespace fedtiny::coordinator
