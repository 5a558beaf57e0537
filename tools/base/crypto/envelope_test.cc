#include "tools/base/crypto/envelope.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/crypto/aead.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::crypto {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::HasSubstr;

v1::BundleBinding Binding() {
  v1::BundleBinding b;
  b.set_task("keyword-spotting");
  b.set_cluster("eu-1");
  b.set_model_version(7);
  b.set_variant("int8");
  return b;
}

SecureBytes Key() {
  absl::StatusOr<SecureBytes> k = NewModelKey();
  EXPECT_THAT(k, IsOk());
  return k.ok() ? *std::move(k) : SecureBytes();
}

class EnvelopeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<v1::EncryptedBundle> b =
        EncryptBundle(key_, Binding(), plaintext_);
    ASSERT_THAT(b, IsOk());
    bundle_ = *std::move(b);
  }

  SecureBytes key_ = Key();
  std::string plaintext_ = std::string(1000, 'm') + "the model";
  v1::EncryptedBundle bundle_;
};

TEST_F(EnvelopeTest, RoundTrip) {
  EXPECT_EQ(bundle_.format(), kBundleFormatAes256Gcm);
  EXPECT_EQ(bundle_.nonce().size(), kGcmNonceBytes);
  EXPECT_EQ(bundle_.ciphertext().size(), plaintext_.size() + kGcmTagBytes);
  EXPECT_EQ(bundle_.ciphertext().find("the model"), std::string::npos);
  absl::StatusOr<SecureBytes> plain = DecryptBundle(key_, Binding(), bundle_);
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ(plain->view(), plaintext_);
  // Two encryptions of the same bundle differ (fresh nonce).
  absl::StatusOr<v1::EncryptedBundle> again = EncryptBundle(key_, Binding(), plaintext_);
  ASSERT_THAT(again, IsOk());
  EXPECT_NE(again->nonce(), bundle_.nonce());
  EXPECT_NE(again->ciphertext(), bundle_.ciphertext());
  // An empty bundle round-trips too.
  absl::StatusOr<v1::EncryptedBundle> empty = EncryptBundle(key_, Binding(), "");
  ASSERT_THAT(empty, IsOk());
  absl::StatusOr<SecureBytes> none = DecryptBundle(key_, Binding(), *empty);
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->empty());
}

TEST_F(EnvelopeTest, WrongKeyIsRefused) {
  EXPECT_THAT(DecryptBundle(Key(), Binding(), bundle_),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(DecryptBundle(SecureBytes::CopyOf("short"), Binding(), bundle_),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(EnvelopeTest, FlippedBitsAreRefused) {
  for (size_t i = 0; i < bundle_.nonce().size() * 8; ++i) {
    v1::EncryptedBundle b = bundle_;
    (*b.mutable_nonce())[i / 8] ^= static_cast<char>(1 << (i % 8));
    EXPECT_THAT(DecryptBundle(key_, Binding(), b),
                StatusIs(absl::StatusCode::kUnauthenticated));
  }
  // The first and last bytes of the ciphertext, and every bit of the tag.
  const size_t n = bundle_.ciphertext().size();
  for (size_t byte : {size_t{0}, n / 2, n - kGcmTagBytes - 1}) {
    v1::EncryptedBundle b = bundle_;
    (*b.mutable_ciphertext())[byte] ^= 0x01;
    EXPECT_THAT(DecryptBundle(key_, Binding(), b),
                StatusIs(absl::StatusCode::kUnauthenticated));
  }
  for (size_t i = 0; i < kGcmTagBytes * 8; ++i) {
    v1::EncryptedBundle b = bundle_;
    (*b.mutable_ciphertext())[n - kGcmTagBytes + i / 8] ^=
        static_cast<char>(1 << (i % 8));
    EXPECT_THAT(DecryptBundle(key_, Binding(), b),
                StatusIs(absl::StatusCode::kUnauthenticated));
  }
}

TEST_F(EnvelopeTest, TruncatedIsRefused) {
  v1::EncryptedBundle b = bundle_;
  b.mutable_ciphertext()->pop_back();
  EXPECT_THAT(DecryptBundle(key_, Binding(), b),
              StatusIs(absl::StatusCode::kUnauthenticated));
  b.set_ciphertext(bundle_.ciphertext().substr(0, kGcmTagBytes - 1));
  EXPECT_THAT(DecryptBundle(key_, Binding(), b),
              StatusIs(absl::StatusCode::kInvalidArgument));
  b = bundle_;
  b.mutable_nonce()->pop_back();
  EXPECT_THAT(DecryptBundle(key_, Binding(), b),
              StatusIs(absl::StatusCode::kInvalidArgument));
  b = bundle_;
  b.set_format(2);
  EXPECT_THAT(DecryptBundle(key_, Binding(), b),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("format")));
}

// Each field of the binding, swapped: refused as a mismatch when the device
// expects the other value; refused by the tag when the binding in the bundle
// is edited to match what the device expects.
TEST_F(EnvelopeTest, SwappedAssociatedDataIsRefused) {
  auto edits = std::vector<void (*)(v1::BundleBinding&)>{
      [](v1::BundleBinding& b) { b.set_task("other-task"); },
      [](v1::BundleBinding& b) { b.set_cluster("us-2"); },
      [](v1::BundleBinding& b) { b.set_model_version(8); },
      [](v1::BundleBinding& b) { b.set_variant("float32"); },
  };
  for (auto edit : edits) {
    v1::BundleBinding other = Binding();
    edit(other);
    absl::Status mismatch = DecryptBundle(key_, other, bundle_).status();
    EXPECT_THAT(mismatch, StatusIs(absl::StatusCode::kFailedPrecondition,
                                   HasSubstr(kBindingMismatch)));
    EXPECT_TRUE(IsBindingMismatch(mismatch));
    v1::EncryptedBundle relabelled = bundle_;
    *relabelled.mutable_binding() = other;
    EXPECT_THAT(DecryptBundle(key_, other, relabelled),
                StatusIs(absl::StatusCode::kUnauthenticated));
  }
}

TEST(BundleAadTest, CanonicalAndUnambiguous) {
  v1::BundleBinding b;
  b.set_task("t");
  b.set_cluster("c");
  b.set_model_version(258);
  b.set_variant("v");
  EXPECT_EQ(absl::BytesToHexString(BundleAad(1, b)),
            "0000000e" + absl::BytesToHexString("fedtiny.bundle") +
                "00000001"
                "0000000174"
                "0000000163"
                "0000000000000102"
                "0000000176");
  // Moving bytes between adjacent fields changes the associated data.
  v1::BundleBinding x = b, y = b;
  x.set_task("ab");
  x.set_cluster("c");
  y.set_task("a");
  y.set_cluster("bc");
  EXPECT_NE(BundleAad(1, x), BundleAad(1, y));
  EXPECT_NE(BundleAad(1, b), BundleAad(2, b));
  v1::BundleBinding negative = b;
  negative.set_model_version(-1);
  EXPECT_NE(BundleAad(1, negative), BundleAad(1, b));
}

class WrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<EcPrivateKey> d = EcPrivateKey::Generate();
    ASSERT_THAT(d, IsOk());
    device_.emplace(*std::move(d));
    absl::StatusOr<v1::WrappedKey> w =
        WrapModelKey(device_->public_key(), model_key_, Binding());
    ASSERT_THAT(w, IsOk());
    wrapped_ = *std::move(w);
  }

  SecureBytes model_key_ = Key();
  std::optional<EcPrivateKey> device_;
  v1::WrappedKey wrapped_;
};

TEST_F(WrapTest, RoundTrip) {
  EXPECT_EQ(wrapped_.format(), kWrapFormatP256HkdfAes256Gcm);
  EXPECT_EQ(wrapped_.device_key_id(), device_->public_key().key_id());
  EXPECT_EQ(wrapped_.ciphertext().size(), kModelKeyBytes + kGcmTagBytes);
  absl::StatusOr<SecureBytes> key = UnwrapModelKey(*device_, wrapped_, Binding());
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(key->view(), model_key_.view());
  // Wrapping twice uses a fresh ephemeral key.
  absl::StatusOr<v1::WrappedKey> again =
      WrapModelKey(device_->public_key(), model_key_, Binding());
  ASSERT_THAT(again, IsOk());
  EXPECT_NE(again->ephemeral_public_spki(), wrapped_.ephemeral_public_spki());
}

TEST_F(WrapTest, AnotherDeviceKeyIsRefused) {
  absl::StatusOr<EcPrivateKey> other = EcPrivateKey::Generate();
  ASSERT_THAT(other, IsOk());
  absl::Status s = UnwrapModelKey(*other, wrapped_, Binding()).status();
  EXPECT_TRUE(IsBindingMismatch(s)) << s;
  // Even relabelled with the other device's id, the tag refuses it.
  v1::WrappedKey relabelled = wrapped_;
  relabelled.set_device_key_id(other->public_key().key_id());
  EXPECT_THAT(UnwrapModelKey(*other, relabelled, Binding()),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(WrapTest, TamperingIsRefused) {
  for (std::string* field :
       {wrapped_.mutable_nonce(), wrapped_.mutable_ciphertext()}) {
    for (size_t i = 0; i < field->size(); ++i) {
      (*field)[i] ^= 0x80;
      EXPECT_THAT(UnwrapModelKey(*device_, wrapped_, Binding()),
                  StatusIs(absl::StatusCode::kUnauthenticated));
      (*field)[i] ^= 0x80;
    }
  }
  // Another valid ephemeral key: a different shared secret.
  absl::StatusOr<EcPrivateKey> e = EcPrivateKey::Generate();
  ASSERT_THAT(e, IsOk());
  v1::WrappedKey swapped = wrapped_;
  swapped.set_ephemeral_public_spki(e->public_key().spki_der());
  EXPECT_THAT(UnwrapModelKey(*device_, swapped, Binding()),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // A broken ephemeral key.
  swapped.set_ephemeral_public_spki("not a key");
  EXPECT_THAT(UnwrapModelKey(*device_, swapped, Binding()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  v1::WrappedKey truncated = wrapped_;
  truncated.mutable_ciphertext()->pop_back();
  EXPECT_THAT(UnwrapModelKey(*device_, truncated, Binding()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(WrapTest, ScopeIsBound) {
  v1::BundleBinding other = Binding();
  other.set_model_version(8);
  absl::Status s = UnwrapModelKey(*device_, wrapped_, other).status();
  EXPECT_TRUE(IsBindingMismatch(s)) << s;
  v1::WrappedKey relabelled = wrapped_;
  *relabelled.mutable_scope() = other;
  EXPECT_THAT(UnwrapModelKey(*device_, relabelled, other),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(WrapTest, EndToEnd) {
  absl::StatusOr<v1::EncryptedBundle> bundle =
      EncryptBundle(model_key_, Binding(), "serialized model");
  ASSERT_THAT(bundle, IsOk());
  absl::StatusOr<SecureBytes> key = UnwrapModelKey(*device_, wrapped_, Binding());
  ASSERT_THAT(key, IsOk());
  absl::StatusOr<SecureBytes> plain = DecryptBundle(*key, Binding(), *bundle);
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ(plain->view(), "serialized model");
}

}  // namespace
}  // namespace fedtiny::crypto
