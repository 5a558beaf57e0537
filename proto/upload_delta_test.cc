#include "proto/upload_delta.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/delta_codec.h"
#include "tools/base/update_codec.h"

namespace fedtiny {
namespace {

v1::Assignment Assigned(const std::string& compression) {
  v1::Assignment a;
  a.set_task("t");
  a.set_round(3);
  a.set_upload_token("token-1");
  a.set_compression(compression);
  return a;
}

TEST(UploadDeltaTest, FollowsTheAssignment) {
  const std::vector<float> delta(300, 0.5f);
  v1::UploadRequest up;
  up.set_delta("stale");
  SetUploadDelta(Assigned(""), delta, 1, up);
  EXPECT_EQ(up.delta(), EncodeDelta(delta));
  EXPECT_TRUE(up.compressed_delta().empty());

  const v1::Assignment a = Assigned("hadamard:bits=4,k=0.5");
  SetUploadDelta(a, delta, 1, up);
  EXPECT_TRUE(up.delta().empty());
  CompressionSpec spec;
  std::string error;
  ASSERT_TRUE(ParseCompressionSpec(a.compression(), &spec, &error));
  EXPECT_EQ(up.compressed_delta().size(), CompressedBytes(spec, 300));
  EXPECT_EQ(UploadDeltaBytes(up), static_cast<int64_t>(CompressedBytes(spec, 300)));
  std::vector<float> out;
  // The device's seed is (task, round, token): the coordinator decodes with it.
  EXPECT_TRUE(DecodeCompressed(up.compressed_delta(), spec, 300, CompressionSeed("t", 3, "token-1"), &out,
                               &error))
      << error;
  EXPECT_FALSE(DecodeCompressed(up.compressed_delta(), spec, 300, CompressionSeed("t", 3, ""), &out, &error));
}

TEST(UploadDeltaTest, FixedRangeSharesTheRoundSeed) {
  const std::vector<float> delta(300, 0.01f);
  v1::UploadRequest up;
  const v1::Assignment a = Assigned("hadamard:bits=2,range=0.5");
  SetUploadDelta(a, delta, 1, up);
  CompressionSpec spec;
  std::string error;
  ASSERT_TRUE(ParseCompressionSpec(a.compression(), &spec, &error));
  std::vector<float> out;
  EXPECT_TRUE(DecodeCompressed(up.compressed_delta(), spec, 300, CompressionSeed("t", 3, ""), &out, &error))
      << error;
}

TEST(UploadDeltaTest, FallsBackToFloat32) {
  v1::UploadRequest up;
  const std::vector<float> delta = {1, 2, 3};
  SetUploadDelta(Assigned("zstd:level=3"), delta, 1, up);  // A spec from a newer server.
  EXPECT_EQ(up.delta(), EncodeDelta(delta));
  const std::vector<float> nan = {1, NAN};
  SetUploadDelta(Assigned("hadamard:bits=4"), nan, 1, up);  // The server refuses it as malformed.
  EXPECT_EQ(up.delta().size(), 8u);
  EXPECT_TRUE(up.compressed_delta().empty());
}

}  // namespace
}  // namespace fedtiny
