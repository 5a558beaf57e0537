// The networked driver: M virtual devices, each a real client::Participant using
// the real gRPC transport, against a running coordinator. Each device holds a
// Dirichlet share of Fashion-MNIST as raw images and runs the task's body
// itself. Retry windows are honoured, scaled by --time_scale so that a fleet's
// hours pass in seconds.
// TLS by default (the system's roots, or --tls_ca); --insecure for a plaintext
// coordinator on loopback.
// Model trust by default (docs/security.md): each device enrolls (a P-256 key
// kept beside its checkpoint), starts from the root Enroll returns (or
// --trust_root, the operator's root file), refreshes the signed metadata before
// each download and verifies every bundle; the coordinator must run with
// --trust_dir. When the coordinator encrypts bundles (its default with
// --trust_dir; Enroll says so) each device unwraps its model keys with the same
// key and decrypts every bundle in memory, refusing plain ones from then on.
// --notrust for an unsigned coordinator. The summary gives, per device class,
// the metadata bytes fetched and the time spent verifying and decrypting.
//   net_fleet --server=127.0.0.1:PORT --insecure --population=fmnist --clients=200
//   net_fleet --server=coordinator.example:8443 --tls_ca=ca.pem
#include <atomic>
#include <algorithm>
#include <chrono>
#include <map>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "client/core/eligibility.h"
#include "client/transport/participant.h"
#include "client/transport/session.h"
#include "client/trust/device_key.h"
#include "tools/base/crypto/ec_key.h"
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
ABSL_FLAG(bool, trust, true,
          "Require model trust: enroll, verify signed metadata and every bundle (the coordinator "
          "needs --trust_dir). --notrust: unsigned bundles.");
ABSL_FLAG(std::string, trust_root, "",
          "With --trust: the initial root (the operator's <trust_dir>/metadata/1.root.pb); "
          "default: the root Enroll returns (trust on first use).");

namespace {

// What enrolling gave a device: the root to start from, and whether the
// coordinator encrypts bundles (then the device requires it).
struct Enrolled {
  std::string root;
  bool encrypted = false;
};

// Enrolls device `id` with its key (`key`, kept beside its checkpoint, 0600,
// made at first use). The root is `pinned` if given.
absl::StatusOr<Enrolled> Enroll(fedtiny::client::FederationSession& session,
                                const std::string& id, const std::string& ckpt,
                                fedtiny::client::trust::DeviceKeyStore& key,
                                const std::string& pinned) {
  absl::StatusOr<fedtiny::crypto::EcPublicKey> pub = key.GetOrCreate();
  if (!pub.ok()) return pub.status();
  absl::StatusOr<std::string> secret = fedtiny::ReadFile(ckpt + ".secret");
  if (!secret.ok()) return secret.status();
  fedtiny::v1::EnrollRequest req;
  req.set_device_id(id);
  req.set_device_secret(*secret);
  req.set_device_public_key_spki(pub->spki_der());
  absl::StatusOr<fedtiny::v1::EnrollResponse> resp = session.Enroll(req);
  if (!resp.ok()) return resp.status();
  if (pinned.empty() && resp->root().empty()) {
    return absl::FailedPreconditionError(
        "the coordinator serves no model-trust metadata: start it with --trust_dir (flctl keys "
        "init), or run net_fleet --notrust");
  }
  return Enrolled{pinned.empty() ? resp->root() : pinned, resp->bundles_encrypted()};
}

// Model trust's cost, summed over one device class.
struct ClassCost {
  int devices = 0;
  fedtiny::client::TrustCost cost;
};

}  // namespace

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
  std::string pinned_root;
  if (absl::GetFlag(FLAGS_trust) && !absl::GetFlag(FLAGS_trust_root).empty()) {
    absl::StatusOr<std::string> root = fedtiny::ReadFile(absl::GetFlag(FLAGS_trust_root));
    if (!root.ok()) {
      std::fprintf(stderr, "net_fleet: --trust_root: %s\n", root.status().ToString().c_str());
      return 1;
    }
    pinned_root = *root;
  }
  // Devices keep checkpoints, secrets and keys there: create it if missing.
  std::error_code made;
  std::filesystem::create_directories(absl::GetFlag(FLAGS_checkpoint_dir), made);
  if (made) {
    std::fprintf(stderr, "net_fleet: cannot create --checkpoint_dir %s: %s\n",
                 absl::GetFlag(FLAGS_checkpoint_dir).c_str(), made.message().c_str());
    return 1;
  }
  std::vector<std::string> classes(n);
  for (int i = 0; i < n; ++i) {
    fedtiny::client::SessionOptions s;
    s.address = absl::GetFlag(FLAGS_server);
    s.insecure = absl::GetFlag(FLAGS_insecure);
    if (!absl::GetFlag(FLAGS_tls_ca).empty()) s.tls_root_cert_pem = *ca;
    s.seed = static_cast<uint64_t>(i) + 1;
    // One in five is a microcontroller (no FPU: the int8 body); one in five a
    // low-end phone (1 GiB: a task's body variant for short RAM, if any).
    classes[i] = i % 5 == 0 ? "mcu-m7" : i % 5 == 1 ? "phone-low" : "phone";
    fedtiny::client::DeviceProfile p{"net-" + std::to_string(i), absl::GetFlag(FLAGS_population),
                                     classes[i]};
    p.has_fpu = i % 5 != 0;
    if (i % 5 == 1) p.ram_bytes = int64_t{1} << 30;
    const std::string ckpt =
        absl::GetFlag(FLAGS_checkpoint_dir) + "/net-fleet-" + std::to_string(i) + ".ckpt";
    if (absl::GetFlag(FLAGS_trust)) {
      // Virtual devices start each run from the root they enroll with: a
      // trusted set left by a run against another coordinator (other keys)
      // would refuse this one's metadata.
      std::remove((ckpt + ".trust").c_str());
      // The participant made the device's secret file; enrolling needs it.
      fedtiny::client::Participant first(p, s, &plugged, ckpt);
      fedtiny::client::FederationSession session(s);
      auto key = std::make_shared<fedtiny::client::trust::FileDeviceKeyStore>(ckpt + ".key.pem");
      absl::StatusOr<Enrolled> enrolled = Enroll(session, p.device_id, ckpt, *key, pinned_root);
      if (!enrolled.ok()) {
        std::fprintf(stderr, "net_fleet: enroll %s: %s\n", p.device_id.c_str(),
                     enrolled.status().ToString().c_str());
        return 1;
      }
      p.trust_root = enrolled->root;
      // Encrypted bundles when the coordinator serves them (its default with
      // --trust_dir): from then on this device refuses plain ones.
      if (enrolled->encrypted) p.device_key = std::move(key);
    }
    devices[i].participant = std::make_unique<fedtiny::client::Participant>(p, s, &plugged, ckpt);
    devices[i].x.resize(parts[i].size(), 784);
    for (size_t k = 0; k < parts[i].size(); ++k) {
      devices[i].x.row(k) = data->train.images.row(parts[i][k]);
      devices[i].y.push_back(data->train.labels[parts[i][k]]);
    }
  }
  std::atomic<int> uploads{0}, failures{0}, retries{0}, refusals{0};
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
            if (absl::StartsWith(r.why, "trust:")) ++refusals;
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
  if (!absl::GetFlag(FLAGS_trust)) return 0;
  std::map<std::string, ClassCost> by_class;
  for (int i = 0; i < n; ++i) {
    ClassCost& c = by_class[classes[i]];
    const fedtiny::client::TrustCost t = devices[i].participant->trust_cost();
    ++c.devices;
    c.cost.metadata_bytes += t.metadata_bytes;
    c.cost.metadata_files += t.metadata_files;
    c.cost.refreshes += t.refreshes;
    c.cost.refresh_time += t.refresh_time;
    c.cost.verify_time += t.verify_time;
    c.cost.verified_bytes += t.verified_bytes;
    c.cost.decrypt_time += t.decrypt_time;
    c.cost.decrypted_bytes += t.decrypted_bytes;
  }
  std::printf("net_fleet: model trust: %d refusals (trust:<reason>)\n", refusals.load());
  for (const auto& [cls, c] : by_class) {
    const double refreshes = std::max<int64_t>(1, c.cost.refreshes);
    std::printf(
        "net_fleet: trust %-8s devices=%d refreshes=%lld metadata_bytes=%lld (%.0f/refresh) "
        "metadata_ms=%.1f (%.2f/refresh) verified_bytes=%lld verify_ms=%.2f "
        "decrypted_bytes=%lld decrypt_ms=%.2f\n",
        cls.c_str(), c.devices, static_cast<long long>(c.cost.refreshes),
        static_cast<long long>(c.cost.metadata_bytes), c.cost.metadata_bytes / refreshes,
        absl::ToDoubleMilliseconds(c.cost.refresh_time),
        absl::ToDoubleMilliseconds(c.cost.refresh_time) / refreshes,
        static_cast<long long>(c.cost.verified_bytes),
        absl::ToDoubleMilliseconds(c.cost.verify_time),
        static_cast<long long>(c.cost.decrypted_bytes),
        absl::ToDoubleMilliseconds(c.cost.decrypt_time));
  }
  return 0;
}
