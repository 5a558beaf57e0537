// The telemetry fleet simulator (docs/observability.md, "Simulating drift").
// One run prints, per window and device class, the reports and each drift
// probe's PSI, JSD, null 99th percentile and alert:
//   drift_fleet --devices=5000 --drift=brightness --drift_from_window=1
// --grpc sends the reports with the real Exporter to a real coordinator
// server on 127.0.0.1 instead (same table for the same seed, slower).
// --sweep_seeds=N runs N seeds of each --drift kind (comma-separated) and as
// many drift-free runs of the same length, and prints the detection rate in
// the onset window, the mean windows to detection and the false-alarm rate:
//   drift_fleet --sweep_seeds=5 --drift=brightness,contrast,rotation,label
#include <stdlib.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "sim/fashion_mnist.h"
#include "sim/telemetry/fleet.h"
#include "sim/telemetry/image_drift.h"
#include "sim/telemetry/model_author.h"
#include "sim/telemetry/sweep.h"

ABSL_FLAG(std::string, data_dir, fedtiny::sim::kFashionMnistDir,
          "Fashion-MNIST IDX files.");
ABSL_FLAG(int, devices, 5000, "Virtual devices.");
ABSL_FLAG(double, gateway_fraction, 0.2,
          "Fraction of devices of class gateway (rest: phone).");
ABSL_FLAG(int, windows, 3, "Daily reporting windows.");
ABSL_FLAG(int, queries, 6, "Predict calls per device and window.");
ABSL_FLAG(int, shard_size, 40, "Test images per device.");
ABSL_FLAG(std::string, drift, "brightness",
          "none|brightness|contrast|rotation|label[:strength]; comma-separated "
          "for a sweep.");
ABSL_FLAG(std::string, drift_class, "gateway", "phone, gateway or all.");
ABSL_FLAG(double, drift_fraction, 1.0,
          "Fraction of drift_class's devices that drift.");
ABSL_FLAG(int, drift_from_window, 1, "First drifted window (0-based).");
ABSL_FLAG(double, epsilon, 2,
          "Epsilon of each drift probe (class, activations).");
ABSL_FLAG(double, latency_epsilon, 0.5, "Epsilon of the latency probe.");
ABSL_FLAG(int, activation_probes, 2,
          "ACTIVATION probes (highest-variance body units).");
ABSL_FLAG(int, train_examples, 12000, "Training images for the model.");
ABSL_FLAG(int, epochs, 2, "Training epochs.");
ABSL_FLAG(uint64_t, seed, 1, "Fleet seed (a sweep uses 1..N).");
ABSL_FLAG(int, sweep_seeds, 0, "> 0: sweep that many seeds per drift kind.");
ABSL_FLAG(bool, grpc, false,
          "Export with the real Exporter over gRPC to a real coordinator on "
          "127.0.0.1.");
ABSL_FLAG(
    std::string, grpc_data_dir, "",
    "The --grpc coordinator's data directory (default: a new one under /tmp).");

namespace fedtiny::sim::telemetry {
namespace {

void PrintRun(const FleetResult& r) {
  std::printf("%-6s %-8s %7s %7s %-9s %-5s  %s\n", "window", "class", "drifted",
              "reports", "alert", "shift", "probe: psi / jsd / null99 / alert");
  for (const ClassWindow& row : r.rows) {
    std::printf("%-6d %-8s %7lld %7lld %-9s %-5s ", row.window,
                row.device_class.c_str(),
                static_cast<long long>(row.drifted_devices),
                static_cast<long long>(row.reports), row.alert.c_str(),
                row.shift ? "yes" : "-");
    for (const ProbeOutcome& p : row.probes) {
      if (p.alert.empty()) continue;
      std::printf(" %s: %.3f / %.3f / %.3f / %s%s;", p.probe.c_str(), p.psi,
                  p.jsd, p.null_psi_99, p.alert.c_str(), p.shift ? " (shift)" : "");
    }
    std::printf("\n");
  }
}

int Main() {
  const absl::Time t0 = absl::Now();
  absl::StatusOr<FashionMnist> data =
      LoadFashionMnist(absl::GetFlag(FLAGS_data_dir));
  if (!data.ok())
    return std::fprintf(stderr, "%s\n", data.status().ToString().c_str()), 1;
  AuthorOptions author;
  author.train_examples = absl::GetFlag(FLAGS_train_examples);
  author.epochs = absl::GetFlag(FLAGS_epochs);
  author.activation_probes = absl::GetFlag(FLAGS_activation_probes);
  author.drift_epsilon = absl::GetFlag(FLAGS_epsilon);
  author.latency_epsilon = absl::GetFlag(FLAGS_latency_epsilon);
  absl::StatusOr<AuthoredModel> model = TrainAndAuthor(*data, author);
  if (!model.ok())
    return std::fprintf(stderr, "%s\n", model.status().ToString().c_str()), 1;
  std::printf(
      "model: test accuracy %.2f%%, %d probes, daily epsilon %.2f (%.1f s)\n",
      100 * model->test_accuracy, model->spec.probes_size(),
      model->spec.daily_epsilon(), absl::ToDoubleSeconds(absl::Now() - t0));
  FleetOptions o;
  o.devices = absl::GetFlag(FLAGS_devices);
  o.gateway_fraction = absl::GetFlag(FLAGS_gateway_fraction);
  o.windows = absl::GetFlag(FLAGS_windows);
  o.queries_per_window = absl::GetFlag(FLAGS_queries);
  o.shard_size = absl::GetFlag(FLAGS_shard_size);
  o.drift_class = absl::GetFlag(FLAGS_drift_class);
  o.drift_fraction = absl::GetFlag(FLAGS_drift_fraction);
  o.drift_from_window = absl::GetFlag(FLAGS_drift_from_window);
  o.seed = absl::GetFlag(FLAGS_seed);
  if (absl::GetFlag(FLAGS_grpc)) {
    o.grpc_data_dir = absl::GetFlag(FLAGS_grpc_data_dir);
    char tmpl[] = "/tmp/drift_fleet_XXXXXX";
    if (o.grpc_data_dir.empty() && mkdtemp(tmpl) != nullptr)
      o.grpc_data_dir = tmpl;
    if (o.grpc_data_dir.empty())
      return std::fprintf(stderr, "cannot make a data dir\n"), 1;
    if (absl::GetFlag(FLAGS_sweep_seeds) > 0)
      return std::fprintf(stderr, "--grpc runs one fleet, not a sweep\n"), 1;
  }
  std::vector<Drift> drifts;
  for (absl::string_view d : absl::StrSplit(absl::GetFlag(FLAGS_drift), ',')) {
    absl::StatusOr<Drift> parsed = ParseDrift(std::string(d));
    if (!parsed.ok())
      return std::fprintf(stderr, "%s\n", parsed.status().ToString().c_str()),
             1;
    drifts.push_back(*parsed);
  }
  if (absl::GetFlag(FLAGS_sweep_seeds) > 0) {
    absl::StatusOr<std::string> table = SweepTable(
        *model, data->test, o, drifts, absl::GetFlag(FLAGS_sweep_seeds));
    if (!table.ok())
      return std::fprintf(stderr, "%s\n", table.status().ToString().c_str()), 1;
    std::printf("%s(%.1f s)\n", table->c_str(),
                absl::ToDoubleSeconds(absl::Now() - t0));
    return 0;
  }
  o.drift = drifts.front();
  absl::StatusOr<FleetResult> r = RunFleet(*model, data->test, o);
  if (!r.ok())
    return std::fprintf(stderr, "%s\n", r.status().ToString().c_str()), 1;
  PrintRun(*r);
  std::printf("%lld reports (%.1f s)\n",
              static_cast<long long>(r->reports_sent),
              absl::ToDoubleSeconds(absl::Now() - t0));
  return 0;
}

}  // namespace
}  // namespace fedtiny::sim::telemetry

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return fedtiny::sim::telemetry::Main();
}
