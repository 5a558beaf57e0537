// The networked driver: M virtual devices, each a real client::Participant using
// the real gRPC transport, against a running coordinator. Each device holds a
// Dirichlet share of Fashion-MNIST as raw images and runs the task's body
// itself. Retry windows are honoured, scaled by --time_scale so that a fleet's
// hours pass in seconds.
// TLS by default (the system's roots, or --tls_ca); --insecure for a plaintext
// coordinator on loopback.
//   net_fleet --server=127.0.0.1:PORT --insecure --population=fmnist --clients=200
//   net_fleet --server=coordinator.example:8443 --tls_ca=ca.pem
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "client/core/eligibility.h"
#include "client/transport/participant.h"
#include "sim/fashion_mnist.h"
#include "tools/base/atomic_file.h"
#include "sim/partition.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "Coordinator address.");
ABSL_FLAG(std::string, tls_ca, "", "PEM roots to verify the coordinator (default: the system's).");
ABSL_FLAG(bool, insecure, false, "Plaintext instead of TLS (a loopback coordinator).");
ABSL_FLAG(std::string, population, "fmnist", "Population the devices check in for.");
ABSL_FLAG(int, clients, 200, "Virtual devices.");
ABSL_FLAG(double, alpha, 0.5, "Dirichlet label skew.");
ABSL_FLAG(int, threads, 2, "Worker threads.");
ABSL_FLAG(double, time_scale, 1000, "Retry windows are divided by this.");
ABSL_FLAG(double, seconds, 60, "Stop after this many wall seconds.");
ABSL_FLAG(int, uploads, 0, "Stop after this many uploads (0: no limit).");
ABSL_FLAG(std::string, data_dir, fedtiny::sim::kFashionMnistDir, "Fashion-MNIST folder.");
ABSL_FLAG(std::string, checkpoint_dir, "/tmp", "Where devices keep checkpoints.");
ABSL_FLAG(int64_t, seed, 1, "Seed.");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<fedtiny::sim::FashionMnist> data =
      fedtiny::sim::LoadFashionMnist(absl::GetFlag(FLAGS_data_dir));
  if (!data.ok()) {
    std::fprintf(stderr, "net_fleet: %s\n", data.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<std::string> ca = absl::GetFlag(FLAGS_tls_ca).empty()
                                       ? absl::StatusOr<std::string>("")
                                       : fedtiny::ReadFile(absl::GetFlag(FLAGS_tls_ca));
  if (!ca.ok()) {
    std::fprintf(stderr, "net_fleet: --tls_ca: %s\n", ca.status().ToString().c_str());
    return 1;
  }
  const int n = absl::GetFlag(FLAGS_clients);
  std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));
  fedtiny::sim::Partition parts = fedtiny::sim::DirichletSplit(
      data->train.labels, 10, n, absl::GetFlag(FLAGS_alpha), rng);
  fedtiny::client::SettableDeviceState plugged({true, true, true, 90, false});
  struct Device {
    std::unique_ptr<fedtiny::client::Participant> participant;
    fedtiny::client::RowMatrixXf x;
    std::vector<int32_t> y;
    absl::Time next = absl::InfinitePast();
    std::mutex mu;
  };
  std::vector<Device> devices(n);
  for (int i = 0; i < n; ++i) {
    fedtiny::client::SessionOptions s;
    s.address = absl::GetFlag(FLAGS_server);
    s.insecure = absl::GetFlag(FLAGS_insecure);
    if (!absl::GetFlag(FLAGS_tls_ca).empty()) s.tls_root_cert_pem = *ca;
    s.seed = static_cast<uint64_t>(i) + 1;
    fedtiny::client::DeviceProfile p{"net-" + std::to_string(i), absl::GetFlag(FLAGS_population),
                                     i % 5 == 0 ? "mcu-m7" : "phone"};
    p.has_fpu = i % 5 != 0;
    devices[i].participant = std::make_unique<fedtiny::client::Participant>(
        p, s, &plugged, absl::GetFlag(FLAGS_checkpoint_dir) + "/net-fleet-" + std::to_string(i) + ".ckpt");
    devices[i].x.resize(parts[i].size(), 784);
    for (size_t k = 0; k < parts[i].size(); ++k) {
      devices[i].x.row(k) = data->train.images.row(parts[i][k]);
      devices[i].y.push_back(data->train.labels[parts[i][k]]);
    }
  }
  std::atomic<int> uploads{0}, failures{0}, retries{0};
  const absl::Time end = absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_seconds));
  const double scale = absl::GetFlag(FLAGS_time_scale);
  const int max_uploads = absl::GetFlag(FLAGS_uploads);
  auto worker = [&](int t) {
    while (absl::Now() < end && (max_uploads == 0 || uploads < max_uploads)) {
      bool did = false;
      for (int i = t; i < n; i += absl::GetFlag(FLAGS_threads)) {
        Device& d = devices[i];
        if (d.y.empty() || absl::Now() < d.next) continue;
        std::lock_guard<std::mutex> l(d.mu);
        fedtiny::client::RoundResult r = d.participant->RunOnce(d.x, d.y);
        did = true;
        switch (r.kind) {
          case fedtiny::client::RoundResult::Kind::kUploaded:
            ++uploads;
            break;
          case fedtiny::client::RoundResult::Kind::kRetry:
            ++retries;
            d.next = absl::Now() + r.retry_after / scale;
            break;
          default:
            ++failures;
            d.next = absl::Now() + absl::Milliseconds(200);
        }
      }
      if (!did) absl::SleepFor(absl::Milliseconds(5));
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < absl::GetFlag(FLAGS_threads); ++t) pool.emplace_back(worker, t);
  for (std::thread& t : pool) t.join();
  std::printf("net_fleet: %d uploads, %d retries, %d failures from %d devices\n", uploads.load(),
              retries.load(), failures.load(), n);
  return 0;
}
