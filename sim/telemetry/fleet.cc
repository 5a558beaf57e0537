#include "sim/telemetry/fleet.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <memory>
#include <random>

#include "absl/strings/str_cat.h"
#include "client/core/arena.h"
#include "client/core/predict.h"
#include "client/platform/linux/status_bridge.h"
#include "client/telemetry/memory_storage.h"
#include "client/telemetry/randomness.h"
#include "client/telemetry/recording_predictor.h"
#include "client/telemetry/telemetry_client.h"
#include "sim/telemetry/grpc_coordinator.h"
#include "sim/telemetry/in_process_coordinator.h"
#include "sim/telemetry/virtual_device.h"
#include "tools/base/status_macros.h"

namespace fedtiny::sim::telemetry {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kStartUnixS =
    1'800'000'000 / kDay * kDay;  // A UTC day, 2027.
constexpr char kTask[] = "fashion";

struct SimDevice {
  std::unique_ptr<VirtualDevice> device;
  std::string device_class;
  bool drifts = false;
  std::vector<int32_t> shard;  // Test-set rows.
};

// The images a run draws on: the test set, and its rows by label.
struct Images {
  const LabeledImages& test;
  std::array<std::vector<int32_t>, 10> by_label;
};

absl::Status Check(const FleetOptions& o, const LabeledImages& test) {
  const bool class_ok = o.drift_class == kPhone || o.drift_class == kGateway ||
                        o.drift_class == "all";
  bool shift_ok = !o.shift_classes.empty();
  for (int c : o.shift_classes) shift_ok = shift_ok && c >= 0 && c < 10;
  if (o.devices < 1 || o.gateway_fraction < 0 || o.gateway_fraction > 1 ||
      o.windows < 1 || o.queries_per_window < 1 || o.shard_size < 1 ||
      o.drift_fraction < 0 || o.drift_fraction > 1 || o.drift_from_window < 0 ||
      !class_ok || !shift_ok || test.images.rows() < 1 ||
      test.images.cols() != kPixels) {
    return absl::InvalidArgumentError(
        "fleet: need devices, windows, queries, shard >= 1; fractions in [0, "
        "1]; "
        "drift_class phone, gateway or all; shift classes in 0..9; 28x28 "
        "images");
  }
  return absl::OkStatus();
}

// Modelled Predict latency: log-normal about a class's median (a phone's
// application core vs a gateway's small one).
int64_t DrawLatencyUs(const std::string& device_class, std::mt19937_64& rng) {
  const double median = device_class == kGateway ? 900 : 150;
  std::lognormal_distribution<double> d(std::log(median), 0.25);
  return std::max<int64_t>(1, std::llround(d(rng)));
}

absl::StatusOr<std::vector<SimDevice>> MakeDevices(
    const AuthoredModel& model, const FleetOptions& o, const Images& images,
    client::Predictor& predictor, client::Storage& storage,
    client::telemetry::Randomness& rng,
    client::telemetry::TelemetryClient* client, std::mt19937_64& sim_rng) {
  std::vector<SimDevice> devices(o.devices);
  const int gateways =
      static_cast<int>(std::lround(o.gateway_fraction * o.devices));
  const int64_t macs = client::telemetry::MacsPerRow(model.body, model.head);
  std::uniform_int_distribution<int32_t> row(0, images.test.images.rows() - 1);
  std::bernoulli_distribution drifts(o.drift_fraction);
  for (int i = 0; i < o.devices; ++i) {
    SimDevice& d = devices[i];
    d.device_class = i < gateways ? kGateway : kPhone;
    d.drifts = o.drift.kind != DriftKind::kNone &&
               (o.drift_class == "all" || o.drift_class == d.device_class) &&
               drifts(sim_rng);
    for (int j = 0; j < o.shard_size; ++j) d.shard.push_back(row(sim_rng));
    const DeviceConfig config{absl::StrCat("dev", i), d.device_class, kTask, 0,
                              macs};
    ASSIGN_OR_RETURN(d.device,
                     VirtualDevice::Create(config, model.spec,
                                           absl::FromUnixSeconds(kStartUnixS),
                                           predictor, storage, rng, client));
  }
  return devices;
}

// One query's image: the device's own mix, or under a label shift a row of
// one of the shift classes.
const float* PickImage(const SimDevice& d, bool drifting, const FleetOptions& o,
                       const Images& images, std::mt19937_64& sim_rng) {
  std::uniform_real_distribution<double> u(0, 1);
  int32_t r;
  if (drifting && o.drift.kind == DriftKind::kLabelShift &&
      u(sim_rng) < o.drift.strength) {
    const auto& rows =
        images.by_label[o.shift_classes[sim_rng() % o.shift_classes.size()]];
    r = rows[sim_rng() % rows.size()];
  } else {
    r = d.shard[sim_rng() % d.shard.size()];
  }
  return images.test.images.row(r).data();
}

absl::Status RunWindow(int w, const FleetOptions& o, const Images& images,
                       std::vector<SimDevice>& devices,
                       std::mt19937_64& sim_rng) {
  const int64_t start = kStartUnixS + w * kDay;
  std::array<float, kPixels> drifted;
  std::uniform_real_distribution<double> u(0, 1);
  for (SimDevice& d : devices) {
    const bool drifting = d.drifts && w >= o.drift_from_window;
    for (int q = 0; q < o.queries_per_window; ++q) {
      const absl::Time at =
          absl::FromUnixSeconds(start) +
          absl::Seconds((q + u(sim_rng)) * kDay / o.queries_per_window);
      const float* image = PickImage(d, drifting, o, images, sim_rng);
      if (drifting && o.drift.kind != DriftKind::kLabelShift &&
          o.drift.kind != DriftKind::kNone) {
        ApplyImageDrift(o.drift, image, drifted.data());
        image = drifted.data();
      }
      RETURN_IF_ERROR(
          d.device->Query(at, image, DrawLatencyUs(d.device_class, sim_rng)));
    }
  }
  return absl::OkStatus();
}

void Collect(int w, const fedtiny::v1::TelemetryViewResponse& view,
             const std::vector<SimDevice>& devices, const FleetOptions& o,
             FleetResult& out) {
  std::map<std::string, int64_t> drifted;
  for (const SimDevice& d : devices)
    drifted[d.device_class] += d.drifts && w >= o.drift_from_window;
  for (const fedtiny::v1::TelemetryGroup& g : view.groups()) {
    ClassWindow row{w,           g.device_class(), drifted[g.device_class()],
                    g.reports(), g.alert(),        g.shift(), {}};
    for (const fedtiny::v1::ProbeView& p : g.probes())
      row.probes.push_back({p.probe(), p.reports(), p.psi(), p.jsd(),
                            p.null_psi_99(), p.alert(), p.shift()});
    out.rows.push_back(std::move(row));
  }
}

}  // namespace

absl::StatusOr<FleetResult> RunFleet(const AuthoredModel& model,
                                     const LabeledImages& test,
                                     const FleetOptions& o) {
  RETURN_IF_ERROR(Check(o, test));
  Images images{test, {}};
  for (size_t i = 0; i < test.labels.size(); ++i)
    images.by_label[std::clamp(test.labels[i], 0, 9)].push_back(
        static_cast<int32_t>(i));
  for (int c : o.shift_classes)
    if (images.by_label[c].empty())
      return absl::InvalidArgumentError("no image of a shift class");
  // One predictor for the fleet: every device runs the same model, one call
  // at a time; each has its own recorder, consent and budget.
  std::vector<unsigned char> block(
      client::Predictor::ArenaBytes(model.body, model.head, 1));
  client::Arena arena(block.data(), block.size());
  ASSIGN_OR_RETURN(client::Predictor * predictor,
                   client::ToAbsl(client::Predictor::Create(
                       model.body, model.head, 1, arena)));
  client::telemetry::MemoryStorage storage;
  std::unique_ptr<client::telemetry::Randomness> rng =
      client::telemetry::MakeSeededRandomness(o.seed);
  std::mt19937_64 sim_rng(o.seed * 0x9E3779B97F4A7C15ull + 1);
  ASSIGN_OR_RETURN(std::unique_ptr<InProcessCoordinator> in_process,
                   InProcessCoordinator::Create(model.spec, 0));
  std::unique_ptr<GrpcCoordinator> grpc;
  std::unique_ptr<client::telemetry::TelemetryClient> client;
  if (!o.grpc_data_dir.empty()) {
    ASSIGN_OR_RETURN(
        grpc, GrpcCoordinator::Start(model, kTask, o.grpc_data_dir,
                                     absl::FromUnixSeconds(kStartUnixS)));
    client::telemetry::TelemetryClientOptions co;
    co.address = grpc->address();
    co.insecure = true;  // Loopback.
    client = std::make_unique<client::telemetry::TelemetryClient>(co);
  }
  ASSIGN_OR_RETURN(std::vector<SimDevice> devices,
                   MakeDevices(model, o, images, *predictor, storage, *rng,
                               client.get(), sim_rng));
  FleetResult result;
  for (int w = 0; w < o.windows; ++w) {
    RETURN_IF_ERROR(RunWindow(w, o, images, devices, sim_rng));
    const int64_t start = kStartUnixS + w * kDay;
    const absl::Time export_at = absl::FromUnixSeconds(start + kDay + 60);
    if (grpc != nullptr) grpc->SetTime(export_at);
    for (SimDevice& d : devices) {
      ASSIGN_OR_RETURN(int sent, d.device->Export(export_at, *in_process));
      result.reports_sent += sent;
    }
    if (grpc != nullptr) {
      ASSIGN_OR_RETURN(fedtiny::v1::TelemetryViewResponse view,
                       grpc->View(kTask, start));
      Collect(w, view, devices, o, result);
    } else {
      Collect(w, in_process->View(kTask, start), devices, o, result);
    }
  }
  return result;
}

}  // namespace fedtiny::sim::telemetry
