// A metered fleet (issue #14 item 5, docs/experiments.md "Metering"): devices
// make calls every day and sync when online; a chosen fraction cheats once, on
// a random day, by restoring an older snapshot (optionally with the clock set
// back), cloning itself, or editing its uploads. Prints, per cheat and with or
// without a monotonic counter, how many cheaters were flagged and how many days
// and syncs after the cheat; and the flags raised on honest devices (should be
// 0).
//   bazel run -c opt //sim/meter:meter_fleet -- --devices=1000 --days=30
//   ... --grpc   # through a real coordinator's Metering service on 127.0.0.1
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proto/meter_chain.h"
#include "sim/meter/ledger_link.h"
#include "tests/meter_fixture.h"

ABSL_FLAG(int, devices, 1000, "Devices.");
ABSL_FLAG(int, days, 30, "Simulated days.");
ABSL_FLAG(double, cheat_fraction, 0.2, "Fraction of devices that cheat once.");
ABSL_FLAG(double, counter_fraction, 0.5,
          "Fraction of devices with a monotonic counter.");
ABSL_FLAG(double, calls_per_day, 40,
          "Mean metered calls per device and day (Poisson).");
ABSL_FLAG(double, online_probability, 0.5,
          "Chance a device syncs on a given day.");
ABSL_FLAG(uint64_t, seed, 1, "Random seed.");
ABSL_FLAG(bool, grpc, false,
          "Sync through a real coordinator (Server, metering on) over gRPC on 127.0.0.1 "
          "instead of calling the ledger in process.");
ABSL_FLAG(std::string, grpc_data_dir, "",
          "--grpc: the coordinator's data directory (default: a new one under $TMPDIR).");

namespace fedtiny::meter::fixture {
namespace {

constexpr int64_t kDayUs = 86'400'000'000;
enum Cheat {
  kHonest,
  kRestore,
  kRestoreClockBack,
  kClone,
  kEditUpload,
  kCheats
};
const char* kCheatNames[] = {"honest", "restore snapshot",
                             "restore + clock back", "clone", "edit upload"};

struct Actor {
  std::unique_ptr<Device> device;
  Cheat cheat = kHonest;
  int snapshot_day = -1, cheat_day = -1;
  std::map<std::string, std::string> snapshot;
  bool cheated = false, flagged = false, is_clone = false;
  bool synced_between = false;  // A sync between the snapshot and the restore.
  int detect_day = -1, syncs_after_cheat = 0, syncs_to_detect = -1;
};

class Fleet {
 public:
  explicit Fleet(std::unique_ptr<sim::LedgerLink> link)
      : link_(std::move(link)), rng_(absl::GetFlag(FLAGS_seed)) {}

  static LedgerOptions Options() {
    LedgerOptions o;
    o.grant_calls = 1'000'000;
    o.grant_validity = absl::Hours(24 * 7);
    o.counter_every = 8;
    o.clock_skew = absl::Hours(48);
    return o;
  }

  void Populate() {
    const int n = absl::GetFlag(FLAGS_devices);
    for (int i = 0; i < n; ++i) {
      Actor a;
      const bool counter = Chance(absl::GetFlag(FLAGS_counter_fraction));
      a.device = std::make_unique<Device>(
          absl::StrCat("dev", i), link_->public_key(), counter, 4);
      Check(a.device->Reopen().ok(), "open");
      absl::StatusOr<Signed> g = link_->Enroll(
          a.device->options.device_id, counter ? std::optional<uint64_t>(0) : std::nullopt);
      Check(g.ok() && a.device->meter->InstallGrant(*g).ok(), "enroll");
      if (Chance(absl::GetFlag(FLAGS_cheat_fraction))) {
        a.cheat = static_cast<Cheat>(1 + rng_() % (kCheats - 1));
        const int days = absl::GetFlag(FLAGS_days);
        a.snapshot_day = static_cast<int>(rng_() % (days / 3 + 1));
        a.cheat_day =
            a.snapshot_day + 1 + static_cast<int>(rng_() % (days / 3 + 1));
      }
      actors_.push_back(std::move(a));
    }
  }

  void Run() {
    for (int day = 0; day < absl::GetFlag(FLAGS_days); ++day) {
      link_->Advance(absl::Hours(24));
      const size_t n = actors_.size();  // Clones made today start tomorrow.
      for (size_t i = 0; i < n; ++i) Day(actors_[i], day);
    }
  }

  void Report() const {
    std::printf("%-22s %8s %8s %8s %10s %12s %12s %18s\n", "cheat", "counter",
                "devices", "flagged", "rate", "days_to_flag", "syncs_to_flag",
                "missed_after_sync");
    for (int c = 0; c < kCheats; ++c) {
      for (int counter = 0; counter < 2; ++counter) {
        int devices = 0, flagged = 0, missed_after_sync = 0;
        double days = 0, syncs = 0;
        for (const Actor& a : actors_) {
          if (a.cheat != c || a.device->has_counter != (counter == 1) ||
              a.cheat_day < 0 || (c != kHonest && !a.cheated))
            continue;
          if (a.is_clone) continue;
          ++devices;
          if (!a.flagged && a.synced_between) ++missed_after_sync;
          if (a.flagged) {
            ++flagged;
            days += a.detect_day - (c == kHonest ? 0 : a.cheat_day);
            syncs += a.syncs_to_detect;
          }
        }
        if (c == kHonest) {
          devices = 0;
          flagged = 0;
          for (const Actor& a : actors_) {
            if (a.cheat == kHonest && a.device->has_counter == (counter == 1)) {
              ++devices;
              flagged += a.flagged ? 1 : 0;
            }
          }
        }
        std::printf("%-22s %8d %8d %8d %9.1f%% %12.2f %12.2f %18d\n",
                    kCheatNames[c], counter, devices, flagged,
                    devices ? 100.0 * flagged / devices : 0.0,
                    flagged ? days / flagged : 0.0,
                    flagged ? syncs / flagged : 0.0, missed_after_sync);
      }
    }
  }

 private:
  bool Chance(double p) {
    return std::uniform_real_distribution<double>(0, 1)(rng_) < p;
  }
  static void Check(bool ok, const char* what) {
    if (!ok) {
      std::fprintf(stderr, "meter_fleet: %s failed\n", what);
      std::exit(1);
    }
  }

  void Day(Actor& a, int day) {
    Device& d = *a.device;
    d.clock.Set(absl::FromUnixMicros(kStartUs + (day + 1) * kDayUs +
                                     static_cast<int64_t>(rng_() % 1000)));
    if (day == a.snapshot_day &&
        (a.cheat == kRestore || a.cheat == kRestoreClockBack)) {
      Check(d.meter->Flush().ok(), "flush");
      a.snapshot = d.storage.files;
    }
    if (day == a.cheat_day) DoCheat(a);
    std::poisson_distribution<int> calls(absl::GetFlag(FLAGS_calls_per_day));
    for (int k = calls(rng_); k > 0; --k) {
      d.clock.Advance(absl::Microseconds(static_cast<int64_t>(rng_() % 60'000'000)));
      if (!d.meter->Charge().ok())
        break;  // Out of grant or expired: wait for a sync.
    }
    if (Chance(absl::GetFlag(FLAGS_online_probability))) Sync(a, day);
  }

  void DoCheat(Actor& a) {
    Device& d = *a.device;
    a.cheated = true;
    switch (a.cheat) {
      case kRestoreClockBack:
        d.clock.Advance(absl::Microseconds(-10 * kDayUs));
        [[fallthrough]];
      case kRestore:
        d.storage.files = a.snapshot;
        Check(d.Reopen().ok(), "reopen");
        break;
      case kClone: {
        Check(d.meter->Flush().ok(), "flush");
        Actor c;
        c.device = std::make_unique<Device>(
            d.options.device_id, link_->public_key(), d.has_counter, 4);
        c.device->storage.files = d.storage.files;
        Check(c.device->Reopen().ok(), "clone");
        c.cheat = kClone;
        c.cheat_day = a.cheat_day;
        c.cheated = true;
        c.is_clone = true;
        actors_.push_back(std::move(c));
        break;
      }
      default:
        break;
    }
  }

  void Sync(Actor& a, int day) {
    if (day >= a.snapshot_day && day < a.cheat_day) a.synced_between = true;
    SyncRequest req = a.device->meter->MakeSyncRequest();
    if (a.cheat == kEditUpload && a.cheated && req.records_size() >= 3) {
      req.mutable_records()->erase(req.mutable_records()->begin() +
                                   1);  // Under-report.
      Checkpoint c;
      Sha256Digest h{};
      if (req.has_checkpoint() &&
          c.ParseFromString(req.checkpoint().payload())) {
        h = *HashOfBytes(c.chain_hash());
      }
      for (const UsageRecord& r : req.records()) h = *NextHash(h, r);
      req.set_head_hash(AsBytes(h));
    }
    absl::StatusOr<SyncResponse> r = link_->Sync(req);
    Check(r.ok(), "sync");
    if (a.cheated) ++a.syncs_after_cheat;
    Actor& owner = Owner(a);
    if (r->flags_size() > 0 && !owner.flagged) {
      owner.flagged = true;
      owner.detect_day = day;
      owner.syncs_to_detect =
          owner.cheated ? std::max(1, a.syncs_after_cheat) : 0;
    }
    if (r->flags_size() == 0 || r->has_grant())
      a.device->meter->AcceptSync(*r).IgnoreError();
  }

  // A clone's flags count for the device it was cloned from.
  Actor& Owner(Actor& a) {
    if (!a.is_clone) return a;
    for (Actor& o : actors_) {
      if (o.device->options.device_id == a.device->options.device_id) return o;
    }
    return a;
  }

  std::unique_ptr<sim::LedgerLink> link_;
  std::mt19937_64 rng_;
  std::vector<Actor> actors_;
};

}  // namespace
}  // namespace fedtiny::meter::fixture

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using fedtiny::meter::fixture::Fleet;
  const absl::Time start = absl::FromUnixMicros(fedtiny::meter::fixture::kStartUs);
  std::unique_ptr<fedtiny::meter::sim::LedgerLink> link;
  if (absl::GetFlag(FLAGS_grpc)) {
    std::string dir = absl::GetFlag(FLAGS_grpc_data_dir);
    if (dir.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/meter_fleet.XXXXXX";
      if (mkdtemp(pattern.data()) == nullptr) {
        std::perror("meter_fleet: mkdtemp");
        return 1;
      }
      dir = pattern;
    }
    absl::StatusOr<std::unique_ptr<fedtiny::meter::sim::LedgerLink>> grpc =
        fedtiny::meter::sim::GrpcLink(Fleet::Options(), start, dir);
    if (!grpc.ok()) {
      std::fprintf(stderr, "meter_fleet: %s\n", grpc.status().ToString().c_str());
      return 1;
    }
    link = *std::move(grpc);
    std::printf("# syncing over gRPC with a coordinator whose data is in %s\n", dir.c_str());
  } else {
    link = fedtiny::meter::sim::InProcessLink(Fleet::Options(), start);
  }
  const absl::Time began = absl::Now();
  Fleet fleet(std::move(link));
  fleet.Populate();
  fleet.Run();
  fleet.Report();
  std::printf("# %.1f s\n", absl::ToDoubleSeconds(absl::Now() - began));
  return 0;
}
