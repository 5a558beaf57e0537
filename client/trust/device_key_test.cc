#include "client/trust/device_key.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/crypto/ecdh.h"
#include "tools/base/crypto/envelope.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::client::trust {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
  unlink(path.c_str());
  return path;
}

int ModeOf(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

v1::BundleBinding Scope() {
  v1::BundleBinding b;
  b.set_task("kws");
  b.set_cluster("0");
  b.set_model_version(3);
  b.set_variant("float32");
  return b;
}

TEST(FileDeviceKeyStoreTest, CreatesOnceWithMode0600) {
  const std::string path = TempPath("device_key.pem");
  const mode_t old_umask = umask(0);  // even a permissive umask gives 0600
  FileDeviceKeyStore store(path);
  absl::StatusOr<crypto::EcPublicKey> key = store.GetOrCreate();
  umask(old_umask);
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(ModeOf(path), 0600);
  absl::StatusOr<crypto::EcPublicKey> again = store.GetOrCreate();
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->key_id(), key->key_id());
  // Another store (a restart) loads the same key.
  FileDeviceKeyStore restarted(path);
  absl::StatusOr<crypto::EcPublicKey> loaded = restarted.GetOrCreate();
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(loaded->key_id(), key->key_id());
  // No temporary file is left beside it (their names are random).
  const std::string dir = path.substr(0, path.rfind('/'));
  EXPECT_EQ(std::system(("test -z \"$(ls " + dir + " | grep device_key.pem.tmp)\"").c_str()),
            0);
}

TEST(FileDeviceKeyStoreTest, RefusesGroupOrOtherPermissions) {
  const std::string path = TempPath("loose_key.pem");
  {
    FileDeviceKeyStore store(path);
    ASSERT_THAT(store.GetOrCreate(), IsOk());
  }
  for (int mode : {0640, 0604, 0660, 0644, 0700 | 0060, 0602}) {
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
    FileDeviceKeyStore store(path);
    EXPECT_THAT(store.GetOrCreate(),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         HasSubstr("group or others can access it")))
        << std::oct << mode;
    EXPECT_THAT(store.Unwrap(v1::WrappedKey(), Scope()),
                StatusIs(absl::StatusCode::kFailedPrecondition));
    EXPECT_THAT(ReadPrivateKeyFile(path),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(path)));
  }
  ASSERT_EQ(chmod(path.c_str(), 0400), 0);  // read-only for the owner is fine
  FileDeviceKeyStore store(path);
  EXPECT_THAT(store.GetOrCreate(), IsOk());
}

TEST(FileDeviceKeyStoreTest, RefusesSymlinksAndGarbage) {
  const std::string target = TempPath("real_key.pem");
  {
    FileDeviceKeyStore store(target);
    ASSERT_THAT(store.GetOrCreate(), IsOk());
  }
  const std::string link = TempPath("linked_key.pem");
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  FileDeviceKeyStore linked(link);
  EXPECT_THAT(linked.GetOrCreate(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("symbolic")));

  const std::string garbage = TempPath("garbage_key.pem");
  std::ofstream(garbage) << "not a key";
  ASSERT_EQ(chmod(garbage.c_str(), 0600), 0);
  FileDeviceKeyStore bad(garbage);
  EXPECT_THAT(bad.GetOrCreate(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FileDeviceKeyStoreTest, UnwrapNeedsAnEnrolledKey) {
  FileDeviceKeyStore store(TempPath("absent_key.pem"));
  EXPECT_THAT(store.Unwrap(v1::WrappedKey(), Scope()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("enroll")));
}

TEST(FileDeviceKeyStoreTest, UnwrapsWhatTheCoordinatorWraps) {
  FileDeviceKeyStore store(TempPath("unwrap_key.pem"));
  absl::StatusOr<crypto::EcPublicKey> pub = store.GetOrCreate();
  ASSERT_THAT(pub, IsOk());
  absl::StatusOr<crypto::SecureBytes> model_key = crypto::NewModelKey();
  ASSERT_THAT(model_key, IsOk());
  absl::StatusOr<v1::WrappedKey> wrapped =
      crypto::WrapModelKey(*pub, *model_key, Scope());
  ASSERT_THAT(wrapped, IsOk());
  absl::StatusOr<crypto::SecureBytes> key = store.Unwrap(*wrapped, Scope());
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(key->view(), model_key->view());
  v1::BundleBinding other = Scope();
  other.set_variant("int8");
  EXPECT_TRUE(crypto::IsBindingMismatch(store.Unwrap(*wrapped, other).status()));
}

// The platform hook as a secure element would implement it: the private key
// stays inside `element_`, which offers only ECDH.
class SecureElementKeyStore final : public DeviceKeyStore {
 public:
  absl::StatusOr<crypto::EcPublicKey> GetOrCreate() override {
    if (!element_) {
      absl::StatusOr<crypto::EcPrivateKey> k = crypto::EcPrivateKey::Generate();
      if (!k.ok()) return k.status();
      element_.emplace(*std::move(k));
    }
    return crypto::EcPublicKey::FromSpkiDer(element_->public_key().spki_der());
  }
  absl::StatusOr<crypto::SecureBytes> Unwrap(
      const v1::WrappedKey& wrapped, const v1::BundleBinding& scope) override {
    const std::string& spki = element_->public_key().spki_der();
    absl::Status s =
        crypto::CheckWrappedKey(wrapped, element_->public_key().key_id(), scope);
    if (!s.ok()) return s;
    absl::StatusOr<crypto::EcPublicKey> eph =
        crypto::EcPublicKey::FromSpkiDer(wrapped.ephemeral_public_spki());
    if (!eph.ok()) return eph.status();
    // In hardware: the element computes ECDH and returns only the secret.
    absl::StatusOr<crypto::SecureBytes> secret = crypto::EcdhP256(*element_, *eph);
    if (!secret.ok()) return secret.status();
    return crypto::UnwrapModelKeyFromSecret(*secret, spki, wrapped, scope);
  }

 private:
  std::optional<crypto::EcPrivateKey> element_;
};

TEST(DeviceKeyStoreTest, SecureElementHookUnwraps) {
  SecureElementKeyStore store;
  absl::StatusOr<crypto::EcPublicKey> pub = store.GetOrCreate();
  ASSERT_THAT(pub, IsOk());
  absl::StatusOr<crypto::SecureBytes> model_key = crypto::NewModelKey();
  ASSERT_THAT(model_key, IsOk());
  absl::StatusOr<v1::WrappedKey> wrapped =
      crypto::WrapModelKey(*pub, *model_key, Scope());
  ASSERT_THAT(wrapped, IsOk());
  absl::StatusOr<crypto::SecureBytes> key = store.Unwrap(*wrapped, Scope());
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(key->view(), model_key->view());
  (*wrapped->mutable_ciphertext())[0] ^= 1;
  EXPECT_THAT(store.Unwrap(*wrapped, Scope()),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

}  // namespace
}  // namespace fedtiny::client::trust
