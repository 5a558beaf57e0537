// A metered device and its coordinator ledger in one process, for the meter's
// tests, trials and benchmark (issue #14): in-memory storage that can be
// snapshotted, restored and copied (clones), fake counter and clocks. Not
// thread-safe; each Device owns its storage, counter and Meter.
#ifndef FEDTINY_TESTS_METER_FIXTURE_H_
#define FEDTINY_TESTS_METER_FIXTURE_H_

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "client/meter/fake_monotonic_counter.h"
#include "client/meter/meter.h"
#include "client/platform/linux/linux_platform.h"
#include "coordinator/clock.h"
#include "coordinator/meter/meter_ledger.h"

namespace fedtiny::meter::fixture {

// Files in a map; writes fail while fail_writes is set.
class MapStorage final : public client::Storage {
 public:
  client::StatusOr<std::string> ReadFile(const std::string& path) override {
    auto it = files.find(path);
    if (it == files.end())
      return client::Status(client::StatusCode::kNotFound, path);
    return it->second;
  }
  client::Status WriteFileAtomically(const std::string& path,
                                     std::string_view contents) override {
    if (fail_writes)
      return client::Status(client::StatusCode::kInternal, "write " + path);
    files[path] = std::string(contents);
    return client::OkStatus();
  }
  client::Status Remove(const std::string& path) override {
    files.erase(path);
    return client::OkStatus();
  }
  bool Exists(const std::string& path) override {
    return files.count(path) > 0;
  }

  std::map<std::string, std::string> files;
  bool fail_writes = false;
};

inline constexpr int64_t kStartUs = 1'800'000'000'000'000;  // 2027-01-15.

// One device: storage, counter, clock and the Meter over them.
struct Device {
  Device(std::string id, const crypto::EcPublicKey& key, bool with_counter,
         uint64_t n)
      : server_key(key), clock(absl::FromUnixMicros(kStartUs)) {
    options.device_id = std::move(id);
    options.package = "pkg";
    options.model_version = 7;
    options.persist_every = n;
    has_counter = with_counter;
  }
  // Reopen makes a new Meter over the storage (as after a reboot).
  absl::Status Reopen() {
    meter.reset();
    absl::StatusOr<std::unique_ptr<Meter>> m =
        Meter::Open(options, server_key, storage, client::LinuxCrypto(), clock,
                    has_counter ? &counter : nullptr);
    if (!m.ok()) return m.status();
    meter = *std::move(m);
    return absl::OkStatus();
  }

  const crypto::EcPublicKey& server_key;
  MeterOptions options;
  bool has_counter = false;
  MapStorage storage;
  FakeMonotonicCounter counter;
  FakeClock clock;  // tools/base/clock.h.
  std::unique_ptr<Meter> meter;
};

// The coordinator's ledger with a fake clock.
struct Server {
  explicit Server(LedgerOptions options)
      : clock(absl::FromUnixMicros(kStartUs)),
        ledger(*crypto::EcPrivateKey::Generate(), options, clock) {}
  coordinator::FakeClock clock;
  MeterLedger ledger;
};

}  // namespace fedtiny::meter::fixture

#endif  // FEDTINY_TESTS_METER_FIXTURE_H_
