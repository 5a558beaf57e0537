#include "proto/delta_codec.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

std::string Bytes(std::initializer_list<unsigned char> b) {
  return std::string(b.begin(), b.end());
}

TEST(DeltaCodecTest, KnownBytesAreLittleEndian) {
  EXPECT_EQ(EncodeDelta({1.0f}), Bytes({0x00, 0x00, 0x80, 0x3f}));
  EXPECT_EQ(EncodeDelta({-2.0f, 0.5f}),
            Bytes({0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x3f}));
  // 0x3f800001: the least significant byte comes first.
  const float next = std::nextafter(1.0f, 2.0f);
  EXPECT_EQ(EncodeDelta({next}), Bytes({0x01, 0x00, 0x80, 0x3f}));
  absl::StatusOr<std::vector<float>> d = DecodeDelta(Bytes({0x01, 0x00, 0x80, 0x3f}));
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(*d, std::vector<float>{next});
}

TEST(DeltaCodecTest, RoundTripsBitForBit) {
  const std::vector<float> in = {0.0f, -0.0f, 3.25f, -1e-40f,  // a denormal
                                 std::numeric_limits<float>::max(),
                                 std::numeric_limits<float>::infinity(),
                                 std::numeric_limits<float>::quiet_NaN()};
  const std::string bytes = EncodeDelta(in);
  ASSERT_EQ(bytes.size(), 4 * in.size());
  absl::StatusOr<std::vector<float>> out = DecodeDelta(bytes);
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->size(), in.size());
  EXPECT_EQ(std::memcmp(out->data(), in.data(), 4 * in.size()), 0);
  EXPECT_TRUE(std::signbit((*out)[1]));
}

TEST(DeltaCodecTest, EmptyIsEmpty) {
  EXPECT_EQ(EncodeDelta({}), "");
  absl::StatusOr<std::vector<float>> d = DecodeDelta("");
  ASSERT_THAT(d, IsOk());
  EXPECT_TRUE(d->empty());
}

TEST(DeltaCodecTest, RefusesAPartialValue) {
  for (size_t n : {1, 2, 3, 5, 7}) {
    EXPECT_THAT(DecodeDelta(std::string(n, '\0')),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << n;
  }
}

TEST(DeltaCodecTest, FastPathMatchesThePortableBytes) {
  std::vector<float> v(1001);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::ldexp(static_cast<float>(i) - 500.25f, static_cast<int>(i % 40) - 20);
  const std::string fast = EncodeDelta(v);
  EXPECT_EQ(fast, delta_internal::EncodePortable(v));
  std::vector<float> portable;
  delta_internal::DecodePortable(fast, portable);
  absl::StatusOr<std::vector<float>> decoded = DecodeDelta(fast);
  ASSERT_TRUE(decoded.ok());
  ASSERT_EQ(decoded->size(), portable.size());
  EXPECT_EQ(std::memcmp(decoded->data(), portable.data(), portable.size() * 4), 0);
  EXPECT_EQ(std::memcmp(decoded->data(), v.data(), v.size() * 4), 0);
}

}  // namespace
}  // namespace fedtiny
