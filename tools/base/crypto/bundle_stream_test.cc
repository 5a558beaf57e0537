// BundleStreamOpener against the one-shot DecryptBundle (the independent
// reference): the same plaintext for any way of cutting the stream, and the
// same status code for every refusal.
#include "tools/base/crypto/bundle_stream.h"

#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/crypto/aead.h"
#include "tools/base/crypto/envelope.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::crypto {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

v1::BundleBinding Binding(const std::string& cluster = "0") {
  v1::BundleBinding b;
  b.set_task("fmnist");
  b.set_cluster(cluster);
  b.set_model_version(7);
  b.set_variant("float32");
  return b;
}

// Feeds `wire` in pieces of the sizes `cut` picks, then finishes.
absl::StatusOr<SecureBytes> Stream(const SecureBytes& key, const v1::BundleBinding& expected,
                                   const std::string& wire, uint64_t total,
                                   const std::function<size_t()>& cut) {
  absl::StatusOr<BundleStreamOpener> opener = BundleStreamOpener::Start(key, expected, total);
  if (!opener.ok()) return opener.status();
  size_t at = 0;
  while (at < wire.size()) {
    const size_t n = std::min(wire.size() - at, std::max<size_t>(1, cut()));
    absl::Status s = opener->Update(absl::string_view(wire).substr(at, n));
    if (!s.ok()) return s;
    at += n;
  }
  return opener->Finish();
}

absl::StatusOr<SecureBytes> Stream(const SecureBytes& key, const v1::BundleBinding& expected,
                                   const std::string& wire, size_t piece = 1000) {
  return Stream(key, expected, wire, wire.size(), [piece] { return piece; });
}

class BundleStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<SecureBytes> key = NewModelKey();
    ASSERT_THAT(key.status(), IsOk());
    key_ = *std::move(key);
    std::mt19937 rng(5);
    plaintext_.resize(200'003);
    for (char& c : plaintext_) c = static_cast<char>(rng());
    absl::StatusOr<v1::EncryptedBundle> sealed = EncryptBundle(key_, Binding(), plaintext_);
    ASSERT_THAT(sealed.status(), IsOk());
    bundle_ = *sealed;
    wire_ = bundle_.SerializeAsString();
  }

  // The one-shot reference's status for the same bytes.
  absl::StatusCode Reference(const SecureBytes& key, const v1::BundleBinding& expected,
                             const std::string& wire) {
    v1::EncryptedBundle b;
    if (!b.ParseFromString(wire)) return absl::StatusCode::kInvalidArgument;
    return DecryptBundle(key, expected, b).status().code();
  }

  SecureBytes key_;
  std::string plaintext_, wire_;
  v1::EncryptedBundle bundle_;
};

TEST_F(BundleStreamTest, AnyCutGivesThePlaintext) {
  std::mt19937 rng(11);
  for (size_t piece : {size_t{1}, size_t{5}, size_t{17}, size_t{4096}, size_t{65536}, wire_.size()}) {
    absl::StatusOr<SecureBytes> plain = Stream(key_, Binding(), wire_, piece);
    ASSERT_THAT(plain.status(), IsOk()) << "pieces of " << piece;
    EXPECT_EQ(plain->view(), plaintext_) << "pieces of " << piece;
  }
  for (int trial = 0; trial < 20; ++trial) {
    std::uniform_int_distribution<size_t> size(1, 3000);
    absl::StatusOr<SecureBytes> plain =
        Stream(key_, Binding(), wire_, wire_.size(), [&] { return size(rng); });
    ASSERT_THAT(plain.status(), IsOk());
    EXPECT_EQ(plain->view(), plaintext_);
  }
}

TEST_F(BundleStreamTest, EmptyPlaintextToo) {
  absl::StatusOr<v1::EncryptedBundle> sealed = EncryptBundle(key_, Binding(), "");
  ASSERT_THAT(sealed.status(), IsOk());
  absl::StatusOr<SecureBytes> plain = Stream(key_, Binding(), sealed->SerializeAsString(), 3);
  ASSERT_THAT(plain.status(), IsOk());
  EXPECT_TRUE(plain->empty());
}

TEST_F(BundleStreamTest, EveryFlippedByteIsRefusedAsTheReferenceRefusesIt) {
  // Every byte of the header, some of the ciphertext, every byte of the tag
  // and of the binding.
  std::vector<size_t> at;
  for (size_t i = 0; i < 40; ++i) at.push_back(i);
  for (size_t i = 40; i < wire_.size(); i += 9973) at.push_back(i);
  for (size_t i = wire_.size() - 80; i < wire_.size(); ++i) at.push_back(i);
  for (size_t i : at) {
    std::string bad = wire_;
    bad[i] ^= 0x01;
    absl::StatusOr<SecureBytes> got = Stream(key_, Binding(), bad, 4096);
    ASSERT_FALSE(got.ok()) << "byte " << i << " flipped, yet opened";
    const absl::StatusCode want = Reference(key_, Binding(), bad);
    ASSERT_NE(want, absl::StatusCode::kOk);
    // A flipped tag or length byte can make the stream malformed where the
    // one-shot parser sees another field: both refuse; codes match otherwise.
    if (got.status().code() != absl::StatusCode::kInvalidArgument) {
      EXPECT_EQ(got.status().code(), want) << "byte " << i << ": " << got.status();
    }
  }
}

TEST_F(BundleStreamTest, WrongKeyAndWrongBinding) {
  absl::StatusOr<SecureBytes> other = NewModelKey();
  ASSERT_THAT(other.status(), IsOk());
  EXPECT_THAT(Stream(*other, Binding(), wire_).status(),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(Reference(*other, Binding(), wire_), absl::StatusCode::kUnauthenticated);
  absl::Status s = Stream(key_, Binding("1"), wire_).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(IsBindingMismatch(s)) << s;
  EXPECT_EQ(Reference(key_, Binding("1"), wire_), absl::StatusCode::kFailedPrecondition);
  // The binding edited in the stream to match: the tag refuses it.
  v1::EncryptedBundle edited = bundle_;
  edited.mutable_binding()->set_cluster("1");
  EXPECT_THAT(Stream(key_, Binding("1"), edited.SerializeAsString()).status(),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(BundleStreamTest, LengthsOtherThanSignedAreRefused) {
  // Truncated: refused at Finish.
  EXPECT_THAT(Stream(key_, Binding(), wire_.substr(0, wire_.size() - 1), wire_.size(),
                     [] { return size_t{4096}; })
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Longer than signed: refused at the first byte too many.
  absl::StatusOr<BundleStreamOpener> opener = BundleStreamOpener::Start(key_, Binding(), 100);
  ASSERT_THAT(opener.status(), IsOk());
  EXPECT_THAT(opener->Update(wire_.substr(0, 101)), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(opener->Finish().ok());
  // Extra bytes after the binding, within the signed length.
  EXPECT_THAT(Stream(key_, Binding(), wire_ + std::string("\x28\x01", 2)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BundleStreamTest, OtherFieldOrderIsRefusedAsMalformed) {
  // The same message with its binding first (valid protobuf, not the
  // coordinator's encoding): the stream refuses it, the one-shot opens it.
  v1::EncryptedBundle binding_only, rest = bundle_;
  *binding_only.mutable_binding() = bundle_.binding();
  rest.clear_binding();
  const std::string reordered = binding_only.SerializeAsString() + rest.SerializeAsString();
  EXPECT_EQ(Reference(key_, Binding(), reordered), absl::StatusCode::kOk);
  EXPECT_THAT(Stream(key_, Binding(), reordered).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  v1::EncryptedBundle v2 = bundle_;
  v2.set_format(2);
  EXPECT_THAT(Stream(key_, Binding(), v2.SerializeAsString()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Stream(key_, Binding(), std::string(64, '\x1a')).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BundleStreamTest, KeyOfTheWrongSize) {
  EXPECT_THAT(BundleStreamOpener::Start(SecureBytes::CopyOf("short"), Binding(), 10).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedtiny::crypto
