#include "tools/base/crypto/aead.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::crypto {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

std::string Hex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

struct Vector {
  const char* key;
  const char* nonce;
  const char* aad;
  const char* plaintext;
  const char* ciphertext;
  const char* tag;
};

// The GCM specification (McGrew and Viega, as NIST's SP 800-38D validation
// uses it), AES-256 test cases 13, 14 and 16.
const Vector kVectors[] = {
    {"0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

TEST(AeadTest, GcmSpecificationVectors) {
  for (const Vector& v : kVectors) {
    const std::string sealed = Hex(v.ciphertext) + Hex(v.tag);
    absl::StatusOr<std::string> got =
        Aes256GcmSeal(Hex(v.key), Hex(v.nonce), Hex(v.aad), Hex(v.plaintext));
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(absl::BytesToHexString(*got), absl::BytesToHexString(sealed));
    absl::StatusOr<SecureBytes> opened =
        Aes256GcmOpen(Hex(v.key), Hex(v.nonce), Hex(v.aad), sealed);
    ASSERT_THAT(opened, IsOk());
    EXPECT_EQ(opened->view(), Hex(v.plaintext));
  }
}

TEST(AeadTest, EveryChangedBitIsRefused) {
  const std::string key(32, 'k');
  const std::string nonce(12, 'n');
  absl::StatusOr<std::string> sealed = Aes256GcmSeal(key, nonce, "aad", "model");
  ASSERT_THAT(sealed, IsOk());
  for (size_t i = 0; i < sealed->size() * 8; ++i) {
    std::string bad = *sealed;
    bad[i / 8] ^= static_cast<char>(1 << (i % 8));
    EXPECT_THAT(Aes256GcmOpen(key, nonce, "aad", bad),
                StatusIs(absl::StatusCode::kUnauthenticated))
        << "bit " << i;
  }
  std::string other_nonce = nonce;
  other_nonce[11] ^= 1;
  EXPECT_THAT(Aes256GcmOpen(key, other_nonce, "aad", *sealed),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Aes256GcmOpen(std::string(32, 'j'), nonce, "aad", *sealed),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Aes256GcmOpen(key, nonce, "aae", *sealed),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Aes256GcmOpen(key, nonce, "aad", sealed->substr(1)),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(AeadTest, MalformedInputs) {
  const std::string key(32, 'k');
  const std::string nonce(12, 'n');
  EXPECT_THAT(Aes256GcmSeal(std::string(16, 'k'), nonce, "", "x"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Aes256GcmSeal(key, std::string(8, 'n'), "", "x"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Aes256GcmOpen(key, nonce, "", std::string(15, 't')),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Aes256GcmOpen(key, std::string(13, 'n'), "", std::string(16, 't')),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(AeadTest, RandomBytesDiffer) {
  absl::StatusOr<std::string> a = RandomBytes(kGcmNonceBytes);
  absl::StatusOr<std::string> b = RandomBytes(kGcmNonceBytes);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(a->size(), 12u);
  EXPECT_NE(*a, *b);
  absl::StatusOr<SecureBytes> k = RandomSecret(kAes256KeyBytes);
  ASSERT_THAT(k, IsOk());
  EXPECT_EQ(k->size(), 32u);
  EXPECT_NE(k->view(), std::string(32, '\0'));
}

}  // namespace
}  // namespace fedtiny::crypto
