#include "sim/telemetry/image_drift.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace fedtiny::sim::telemetry {
namespace {

constexpr double kPi = 3.14159265358979323846;

float Clip(double v) { return static_cast<float>(std::clamp(v, 0.0, 1.0)); }

// The pixel at (row, col), 0 outside the image.
double At(const float* in, int row, int col) {
  if (row < 0 || row >= kSide || col < 0 || col >= kSide) return 0;
  return in[row * kSide + col];
}

void Rotate(double degrees, const float* in, float* out) {
  const double a = degrees * kPi / 180, c = std::cos(a), s = std::sin(a);
  const double mid = (kSide - 1) / 2.0;
  for (int r = 0; r < kSide; ++r) {
    for (int k = 0; k < kSide; ++k) {
      // The source of output (r, k): the inverse rotation about the centre.
      const double y = c * (r - mid) - s * (k - mid) + mid;
      const double x = s * (r - mid) + c * (k - mid) + mid;
      const int y0 = static_cast<int>(std::floor(y));
      const int x0 = static_cast<int>(std::floor(x));
      const double fy = y - y0, fx = x - x0;
      const double v =
          (1 - fy) * ((1 - fx) * At(in, y0, x0) + fx * At(in, y0, x0 + 1)) +
          fy * ((1 - fx) * At(in, y0 + 1, x0) + fx * At(in, y0 + 1, x0 + 1));
      out[r * kSide + k] = Clip(v);
    }
  }
}

double DefaultStrength(DriftKind kind) {
  switch (kind) {
    case DriftKind::kBrightness:
      return 0.3;
    case DriftKind::kContrast:
      return 0.4;
    case DriftKind::kRotation:
      return 30;
    case DriftKind::kLabelShift:
      return 0.8;
    case DriftKind::kNone:
      return 0;
  }
  return 0;
}

}  // namespace

absl::StatusOr<Drift> ParseDrift(const std::string& text) {
  const size_t colon = text.find(':');
  const std::string name = text.substr(0, colon);
  Drift d;
  if (name == "none")
    d.kind = DriftKind::kNone;
  else if (name == "brightness")
    d.kind = DriftKind::kBrightness;
  else if (name == "contrast")
    d.kind = DriftKind::kContrast;
  else if (name == "rotation")
    d.kind = DriftKind::kRotation;
  else if (name == "label")
    d.kind = DriftKind::kLabelShift;
  else
    return absl::InvalidArgumentError(
        absl::StrCat("unknown drift \"", text, "\""));
  d.strength = DefaultStrength(d.kind);
  if (colon != std::string::npos &&
      !absl::SimpleAtod(text.substr(colon + 1), &d.strength)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad drift strength in \"", text, "\""));
  }
  if (d.kind == DriftKind::kLabelShift && (d.strength < 0 || d.strength > 1)) {
    return absl::InvalidArgumentError("label shift strength must be in [0, 1]");
  }
  return d;
}

std::string DriftName(const Drift& drift) {
  switch (drift.kind) {
    case DriftKind::kNone:
      return "none";
    case DriftKind::kBrightness:
      return absl::StrCat("brightness:", drift.strength);
    case DriftKind::kContrast:
      return absl::StrCat("contrast:", drift.strength);
    case DriftKind::kRotation:
      return absl::StrCat("rotation:", drift.strength);
    case DriftKind::kLabelShift:
      return absl::StrCat("label:", drift.strength);
  }
  return "?";
}

void ApplyImageDrift(const Drift& drift, const float* in, float* out) {
  switch (drift.kind) {
    case DriftKind::kBrightness:
      for (int i = 0; i < kPixels; ++i) out[i] = Clip(in[i] + drift.strength);
      return;
    case DriftKind::kContrast: {
      double mean = 0;
      for (int i = 0; i < kPixels; ++i) mean += in[i];
      mean /= kPixels;
      for (int i = 0; i < kPixels; ++i)
        out[i] = Clip(mean + drift.strength * (in[i] - mean));
      return;
    }
    case DriftKind::kRotation:
      Rotate(drift.strength, in, out);
      return;
    case DriftKind::kNone:
    case DriftKind::kLabelShift:
      std::copy(in, in + kPixels, out);
      return;
  }
}

}  // namespace fedtiny::sim::telemetry
