// Injected input drift for the telemetry fleet simulator (issue #15 item 5):
// small image operations on 28x28 Fashion-MNIST rows (pixels in [0, 1]) and a
// label-prior shift, which changes which images a device queries rather than
// the images themselves (query_mix.h applies it).
//
// Free functions over caller-owned buffers; thread-safe.
#ifndef FEDTINY_SIM_TELEMETRY_IMAGE_DRIFT_H_
#define FEDTINY_SIM_TELEMETRY_IMAGE_DRIFT_H_

#include <string>

#include "absl/status/statusor.h"

namespace fedtiny::sim::telemetry {

inline constexpr int kSide = 28;
inline constexpr int kPixels = kSide * kSide;

enum class DriftKind { kNone, kBrightness, kContrast, kRotation, kLabelShift };

// What a drifted device does. `strength` per kind: brightness adds it to every
// pixel (then clips to [0, 1]); contrast scales each pixel's distance from the
// image's mean by it; rotation turns the image by it in degrees (bilinear,
// zero fill); label shift draws that fraction of the queries from
// `shift_classes` (uniformly) instead of the device's own mix.
struct Drift {
  DriftKind kind = DriftKind::kNone;
  double strength = 0;
};

// ParseDrift reads "none", "brightness", "contrast", "rotation" or "label",
// optionally followed by ":<strength>" (else the kind's default: brightness
// 0.3, contrast 0.4, rotation 30, label 0.8). kInvalidArgument otherwise.
absl::StatusOr<Drift> ParseDrift(const std::string& text);
std::string DriftName(const Drift& drift);

// ApplyImageDrift writes `in` (kPixels floats) with `drift` applied to `out`
// (kPixels floats, not aliasing `in`). Label shift and none copy.
void ApplyImageDrift(const Drift& drift, const float* in, float* out);

}  // namespace fedtiny::sim::telemetry

#endif  // FEDTINY_SIM_TELEMETRY_IMAGE_DRIFT_H_
