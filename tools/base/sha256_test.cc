#include "tools/base/sha256.h"

#include <string>

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny {
namespace {

using ::fedtiny::testing::IsOk;

std::string HexOf(absl::string_view data) {
  absl::StatusOr<Sha256Digest> d = Sha256(data);
  EXPECT_THAT(d, IsOk());
  return d.ok() ? DigestToHex(*d) : "";
}

// Test vectors from FIPS 180-2, appendix B, and NIST's CAVP examples.
TEST(Sha256Test, PublishedVectors) {
  EXPECT_EQ(HexOf(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexOf("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexOf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(HexOf(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, ChunkedEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 10000; ++i) data.push_back(static_cast<char>(i * 31));
  Sha256Hasher hasher;
  for (size_t pos = 0; pos < data.size(); pos += 777) {
    ASSERT_THAT(hasher.Update(absl::string_view(data).substr(pos, 777)), IsOk());
  }
  absl::StatusOr<Sha256Digest> chunked = hasher.Finish();
  ASSERT_THAT(chunked, IsOk());
  EXPECT_EQ(DigestToHex(*chunked), HexOf(data));
}

TEST(Sha256Test, UseAfterFinishFails) {
  Sha256Hasher hasher;
  ASSERT_THAT(hasher.Finish(), IsOk());
  EXPECT_FALSE(hasher.Update("x").ok());
  EXPECT_FALSE(hasher.Finish().ok());
}

TEST(Sha256Test, MovedHasherKeepsState) {
  Sha256Hasher a;
  ASSERT_THAT(a.Update("ab"), IsOk());
  Sha256Hasher b(std::move(a));
  ASSERT_THAT(b.Update("c"), IsOk());
  absl::StatusOr<Sha256Digest> d = b.Finish();
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(DigestToHex(*d), HexOf("abc"));
}

}  // namespace
}  // namespace fedtiny
