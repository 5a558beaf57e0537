#include "client/gateway/frame.h"

#include <string>

#include "gtest/gtest.h"

namespace fedtiny::gateway {
namespace {

TEST(FrameTest, RoundTripsWhateverPiecesTheBytesArriveIn) {
  const std::string payload = std::string("\x00\x01\xffhello", 8) + std::string(5000, 'x');
  const std::string bytes = EncodeFrame(FrameType::kUpload, payload) + EncodeFrame(FrameType::kCheckIn, "");
  ASSERT_EQ(bytes.size(), 2 * kFrameOverhead + payload.size());
  for (size_t piece : {size_t{1}, size_t{3}, size_t{4096}, bytes.size()}) {
    FrameDecoder d(1 << 20);
    std::vector<Frame> got;
    for (size_t i = 0; i < bytes.size(); i += piece) {
      d.Feed(bytes.data() + i, std::min(piece, bytes.size() - i));
      Frame f;
      while (d.Next(&f)) got.push_back(f);
    }
    ASSERT_EQ(got.size(), 2u) << piece;
    EXPECT_EQ(got[0].type, FrameType::kUpload);
    EXPECT_EQ(got[0].payload, payload);
    EXPECT_EQ(got[1].type, FrameType::kCheckIn);
    EXPECT_EQ(got[1].payload, "");
    EXPECT_EQ(d.dropped_bytes(), 0u);
  }
}

TEST(FrameTest, TheLayoutIsTheDocumentedOne) {
  const std::string f = EncodeFrame(FrameType::kDownload, "ab");
  ASSERT_EQ(f.size(), kFrameOverhead + 2);
  EXPECT_EQ(f.substr(0, 2), "FT");
  EXPECT_EQ(static_cast<uint8_t>(f[2]), 3);
  EXPECT_EQ(f.substr(3, 4), std::string("\x02\x00\x00\x00", 4));  // Length, little-endian.
  EXPECT_EQ(f.substr(7, 2), "ab");
  // The trailer is the IEEE CRC-32 of type|length|payload, here of the 7 bytes
  // 03 02 00 00 00 'a' 'b': 0x3E163E7A, computed independently with
  // python3 -c "import zlib; print(hex(zlib.crc32(bytes([3,2,0,0,0])+b'ab')))".
  EXPECT_EQ(f.substr(9, 4), std::string("\x7a\x3e\x16\x3e", 4));
  FrameDecoder d(16);
  std::string tampered = f;
  tampered[7] ^= 0x20;
  d.Feed(tampered.data(), tampered.size());
  Frame out;
  EXPECT_FALSE(d.Next(&out));
  EXPECT_EQ(d.bad_frames(), 1u);
}

TEST(FrameTest, NoiseCorruptionAndOversizeLoseFramesNotTheStream) {
  const std::string good = EncodeFrame(FrameType::kCheckIn, "request");
  std::string corrupt = EncodeFrame(FrameType::kUpload, "delta bytes");
  corrupt[10] ^= 0x01;
  std::string oversize = EncodeFrame(FrameType::kUpload, std::string(100, 'z'));
  const std::string stream = "line noise F FX" + corrupt + good + oversize + good;
  FrameDecoder d(64);  // The 100-byte frame is over the limit.
  d.Feed(stream.data(), stream.size());
  Frame f;
  int frames = 0;
  while (d.Next(&f)) {
    ++frames;
    EXPECT_EQ(f.type, FrameType::kCheckIn);
    EXPECT_EQ(f.payload, "request");
  }
  EXPECT_EQ(frames, 2);
  EXPECT_GE(d.bad_frames(), 2u);
  EXPECT_GE(d.dropped_bytes(), corrupt.size() + oversize.size());
}

TEST(FrameTest, APartialFrameCanBeDroppedWhenTheLinkGoesQuiet) {
  const std::string f = EncodeFrame(FrameType::kCheckIn, "0123456789");
  FrameDecoder d(64);
  d.Feed(f.data(), 9);
  Frame out;
  EXPECT_FALSE(d.Next(&out));
  EXPECT_TRUE(d.DropPartial());
  EXPECT_FALSE(d.DropPartial());
  d.Feed(f.data(), f.size());
  ASSERT_TRUE(d.Next(&out));
  EXPECT_EQ(out.payload, "0123456789");
}

}  // namespace
}  // namespace fedtiny::gateway
