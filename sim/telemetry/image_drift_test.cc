#include "sim/telemetry/image_drift.h"

#include <array>
#include <cmath>

#include "gtest/gtest.h"

namespace fedtiny::sim::telemetry {
namespace {

using Image = std::array<float, kPixels>;

Image Ramp() {
  Image im;
  for (int i = 0; i < kPixels; ++i)
    im[i] = static_cast<float>(i % kSide) / (kSide - 1);
  return im;
}

TEST(ParseDrift, KindsDefaultsAndErrors) {
  EXPECT_EQ(ParseDrift("brightness")->strength, 0.3);
  EXPECT_EQ(ParseDrift("rotation:15")->strength, 15);
  EXPECT_EQ(ParseDrift("label")->kind, DriftKind::kLabelShift);
  EXPECT_EQ(ParseDrift("none")->kind, DriftKind::kNone);
  EXPECT_FALSE(ParseDrift("blur").ok());
  EXPECT_FALSE(ParseDrift("contrast:x").ok());
  EXPECT_FALSE(ParseDrift("label:1.5").ok());
  EXPECT_EQ(DriftName(*ParseDrift("rotation:15")), "rotation:15");
}

TEST(ApplyImageDrift, BrightnessAddsAndClips) {
  const Image in = Ramp();
  Image out;
  ApplyImageDrift({DriftKind::kBrightness, 0.25}, in.data(), out.data());
  EXPECT_FLOAT_EQ(out[0], 0.25f);
  EXPECT_FLOAT_EQ(out[kSide - 1], 1.0f);  // 1 + 0.25 clipped.
  EXPECT_FLOAT_EQ(out[2], in[2] + 0.25f);
}

TEST(ApplyImageDrift, ContrastScalesAboutTheMean) {
  const Image in = Ramp();  // Mean 0.5.
  Image out;
  ApplyImageDrift({DriftKind::kContrast, 0.5}, in.data(), out.data());
  EXPECT_NEAR(out[0], 0.25, 1e-5);
  EXPECT_NEAR(out[kSide - 1], 0.75, 1e-5);
}

TEST(ApplyImageDrift, RotationTurnsAboutTheCentre) {
  Image in{}, out;
  in[3 * kSide + 13] = 1;  // Above the centre, in column 13.
  ApplyImageDrift({DriftKind::kRotation, 0}, in.data(), out.data());
  EXPECT_EQ(out, in);
  ApplyImageDrift({DriftKind::kRotation, 180}, in.data(), out.data());
  // Row 3 -> 27 - 3 = 24, column 13 -> 14: the point mirrored through
  // (13.5, 13.5).
  EXPECT_NEAR(out[24 * kSide + 14], 1, 1e-5);
  EXPECT_NEAR(out[3 * kSide + 13], 0, 1e-5);
  ApplyImageDrift({DriftKind::kRotation, 90}, in.data(), out.data());
  double moved = 0;
  for (float v : out) moved += v;
  EXPECT_NEAR(moved, 1, 1e-4);  // A pure quarter turn keeps the pixel whole.
  EXPECT_NEAR(out[3 * kSide + 13], 0, 1e-5);
}

TEST(ApplyImageDrift, LabelShiftAndNoneCopy) {
  const Image in = Ramp();
  Image out;
  ApplyImageDrift({DriftKind::kLabelShift, 0.8}, in.data(), out.data());
  EXPECT_EQ(out, in);
  ApplyImageDrift({DriftKind::kNone, 0}, in.data(), out.data());
  EXPECT_EQ(out, in);
}

}  // namespace
}  // namespace fedtiny::sim::telemetry
