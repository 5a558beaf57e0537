// The telemetry fleet simulator (issue #15 item 5, docs/observability.md
// "Simulating drift"): N virtual devices (virtual_device.h) of two classes,
// "phone" and "gateway", each querying the authored model
// (model_author.h) on its own shard of the Fashion-MNIST test set for a
// number of daily reporting windows, exporting each window's privatized
// report to the coordinator's code (in_process_coordinator.h, or a real
// coordinator server over gRPC: grpc_coordinator.h). From a chosen
// window, a chosen fraction of the devices of a chosen class (or of every
// class) sees drifted inputs (image_drift.h). After each window the
// coordinator's fleet view over that window gives, per class, the report
// count and each probe's PSI, JSD, null 99th percentile and alert.
//
// Deterministic from the seed. RunFleet is thread-compatible (separate calls
// share nothing but the const model and images they borrow).
#ifndef FEDTINY_SIM_TELEMETRY_FLEET_H_
#define FEDTINY_SIM_TELEMETRY_FLEET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/fashion_mnist.h"
#include "sim/telemetry/image_drift.h"
#include "sim/telemetry/model_author.h"

namespace fedtiny::sim::telemetry {

inline constexpr char kPhone[] = "phone";
inline constexpr char kGateway[] = "gateway";

struct FleetOptions {
  int devices = 5000;
  double gateway_fraction = 0.2;  // The rest are phones.
  int windows = 3;                // Daily windows.
  int queries_per_window = 6;     // Predict calls per device and window.
  int shard_size = 40;            // Test images per device (IID draw).
  Drift drift;
  // Which devices drift: `drift_fraction` of the devices of `drift_class`
  // ("phone", "gateway", or "all" for every class), from window
  // `drift_from_window` (0-based) on.
  std::string drift_class = kGateway;
  double drift_fraction = 1.0;
  int drift_from_window = 1;
  std::vector<int> shift_classes = {0, 1};  // Label shift's classes.
  uint64_t seed = 1;
  // Non-empty: devices export with the real Exporter over gRPC to a real
  // coordinator (grpc_coordinator.h) keeping its data here.
  std::string grpc_data_dir;
};

struct ProbeOutcome {
  std::string probe;
  int64_t reports = 0;
  double psi = 0, jsd = 0, null_psi_99 = 0;
  std::string alert;  // "" for a probe without a reference.
  bool shift = false;  // Beyond what privacy noise explains.
};

// One device class in one window, as the coordinator saw it.
struct ClassWindow {
  int window = 0;
  std::string device_class;
  int64_t drifted_devices = 0;  // Of this class, drifting in this window.
  int64_t reports = 0;
  std::string alert;  // The worst probe's.
  bool shift = false;  // Some probe's.
  std::vector<ProbeOutcome> probes;
};

struct FleetResult {
  std::vector<ClassWindow> rows;  // Window-major, classes sorted.
  int64_t reports_sent = 0;
};

// RunFleet runs one simulation. kInvalidArgument for bad options; the
// client's and coordinator's codes otherwise (a refused report is an error:
// the simulated devices are honest).
absl::StatusOr<FleetResult> RunFleet(const AuthoredModel& model,
                                     const LabeledImages& test,
                                     const FleetOptions& options);

}  // namespace fedtiny::sim::telemetry

#endif  // FEDTINY_SIM_TELEMETRY_FLEET_H_
