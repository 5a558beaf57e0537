// Randomized cheating trials for metering (issue #14, docs/metering.md): a
// device restores an older snapshot across a sync, clones itself, edits its
// upload, or restores a snapshot between syncs; the ledger must flag the first
// three at the next sync every time, and with a monotonic counter the calls a
// between-syncs restore hides without a flag are fewer than B.
// METER_TRIALS sets the number (default 2000; :meter_trials_long runs 20000).
#include <cstdlib>
#include <random>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/meter_chain.h"
#include "tests/meter_fixture.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::meter::fixture {
namespace {

using ::fedtiny::testing::IsOk;

constexpr uint64_t kN = 4;  // persist_every
constexpr uint64_t kB = 8;  // counter_every

LedgerOptions TrialOptions() {
  LedgerOptions o;
  o.grant_calls = 100000;
  o.counter_every = kB;
  o.clock_skew =
      absl::Hours(24 * 365);  // Devices' fake clocks run ahead of the server's.
  return o;
}

struct Stats {
  int trials = 0, detected = 0;
  uint64_t max_hidden = 0;  // Calls hidden by undetected restores (kind 3).
};

class Trials {
 public:
  explicit Trials(uint32_t seed) : server_(TrialOptions()), rng_(seed) {}

  std::unique_ptr<Device> NewDevice(bool counter) {
    auto d = std::make_unique<Device>(absl::StrCat("dev", next_++),
                                      server_.ledger.public_key(), counter, kN);
    EXPECT_THAT(d->Reopen(), IsOk());
    absl::StatusOr<Signed> g = server_.ledger.Enroll(
        d->options.device_id, "pkg",
        counter ? std::optional<uint64_t>(d->counter.value()) : std::nullopt);
    EXPECT_THAT(g, IsOk());
    EXPECT_THAT(d->meter->InstallGrant(*g), IsOk());
    return d;
  }
  // Clone copies the storage (and identity) onto other hardware: a new counter.
  std::unique_ptr<Device> Clone(Device& d) {
    auto c = std::make_unique<Device>(
        d.options.device_id, server_.ledger.public_key(), d.has_counter, kN);
    c->storage.files = d.storage.files;
    c->clock.Set(d.clock.Now() + absl::Microseconds(Uniform(1, 1000)));
    EXPECT_THAT(c->Reopen(), IsOk());
    return c;
  }
  void Calls(Device& d, uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
      d.clock.Advance(absl::Microseconds(Uniform(1, 1'000'000)));
      ASSERT_THAT(d.meter->Charge(), IsOk());
    }
  }
  // Sync returns the flags; an accepted sync is taken by the device.
  int Sync(Device& d) {
    absl::StatusOr<SyncResponse> r =
        server_.ledger.Sync(d.meter->MakeSyncRequest());
    EXPECT_THAT(r, IsOk());
    if (!r.ok()) return -1;
    if (r->flags_size() == 0) {
      EXPECT_THAT(d.meter->AcceptSync(*r), IsOk());
    }
    return r->flags_size();
  }
  uint64_t Uniform(uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }

  // Kind 0: restore a snapshot taken before a sync that accepted calls.
  bool RestoreAcrossSync() {
    auto d = NewDevice(Uniform(0, 1));
    Calls(*d, Uniform(0, 30));
    const auto snapshot = d->storage.files;
    Calls(*d, Uniform(kN, 30));  // Persisted calls the snapshot lacks.
    EXPECT_EQ(Sync(*d), 0);
    Calls(*d, Uniform(0, 10));
    d->storage.files = snapshot;
    if (Uniform(0, 1))
      d->clock.Advance(-absl::Microseconds(Uniform(1, 1'000'000'000)));
    EXPECT_THAT(d->Reopen(), IsOk());
    Calls(*d, Uniform(0, 10));
    return Sync(*d) > 0;
  }
  // Kind 1: a clone and the original both make calls; the second to sync.
  bool Fork() {
    auto d = NewDevice(Uniform(0, 1));
    Calls(*d, Uniform(0, 30));
    if (Uniform(0, 1)) {
      EXPECT_EQ(Sync(*d), 0);
    }
    EXPECT_THAT(d->meter->Flush(), IsOk());
    auto c = Clone(*d);
    Calls(*d, Uniform(1, 30));
    Calls(*c, Uniform(1, 30));
    Device& first = Uniform(0, 1) ? *d : *c;
    Device& second = &first == d.get() ? *c : *d;
    // A clone with a counter can be caught first, by its counter going back.
    const int flagged_first = Sync(first);
    return Sync(second) > 0 || flagged_first > 0;
  }
  // Kind 2: an edited upload (a changed field, a deleted record with the head
  // recomputed, or a time set back with the head recomputed).
  bool EditUpload() {
    auto d = NewDevice(Uniform(0, 1));
    Calls(*d, Uniform(0, 20));
    if (Uniform(0, 1)) {
      EXPECT_EQ(Sync(*d), 0);
    }
    Calls(*d, Uniform(3, 30));
    SyncRequest req = d->meter->MakeSyncRequest();
    const int n = req.records_size();
    const int i = static_cast<int>(Uniform(0, n - 2));
    switch (Uniform(0, 2)) {
      case 0: {
        UsageRecord* r = req.mutable_records(i);
        switch (Uniform(0, 3)) {
          case 0:
            r->set_index(r->index() + Uniform(1, 5));
            break;
          case 1:
            r->set_model_version(r->model_version() + 1);
            break;
          case 2:
            r->set_time_us(r->time_us() -
                           static_cast<int64_t>(Uniform(1, 1000)));
            break;
          default:
            r->set_counter(r->counter() + 1);
            break;
        }
        break;
      }
      case 1:
        req.mutable_records()->erase(req.mutable_records()->begin() + i);
        Rehash(req);
        break;
      default:
        req.mutable_records(i + 1)->set_time_us(req.records(i).time_us() - 1);
        Rehash(req);
        break;
    }
    absl::StatusOr<SyncResponse> r = server_.ledger.Sync(req);
    EXPECT_THAT(r, IsOk());
    return r.ok() && r->flags_size() > 0;
  }
  // Kind 3 (with a counter): restore a snapshot taken after the last sync,
  // then carry on past the next binding and sync. Returns detected; `hidden`
  // gets the calls the restore took back.
  bool RestoreBetweenSyncs(uint64_t& hidden) {
    auto d = NewDevice(true);
    Calls(*d, Uniform(0, 30));
    if (Uniform(0, 1)) {
      EXPECT_EQ(Sync(*d), 0);
    }
    EXPECT_THAT(d->meter->Flush(), IsOk());
    const auto snapshot = d->storage.files;
    hidden = Uniform(1, 3 * kB);
    Calls(*d, hidden);
    EXPECT_THAT(d->meter->Flush(), IsOk());
    d->storage.files = snapshot;
    EXPECT_THAT(d->Reopen(), IsOk());
    Calls(*d, hidden + kB);
    return Sync(*d) > 0;
  }

 private:
  void Rehash(SyncRequest& req) {
    Checkpoint c;
    Sha256Digest h{};
    if (req.has_checkpoint() && c.ParseFromString(req.checkpoint().payload())) {
      h = *HashOfBytes(c.chain_hash());
    }
    for (const UsageRecord& r : req.records()) h = *NextHash(h, r);
    req.set_head_hash(AsBytes(h));
  }

  Server server_;
  std::mt19937_64 rng_;
  int next_ = 0;
};

int TrialCount() {
  const char* env = std::getenv("METER_TRIALS");
  return env != nullptr ? std::atoi(env) : 2000;
}

TEST(MeterTrialsTest, EveryCheatIsFlaggedAtTheNextSync) {
  Trials t(20261130);
  Stats kinds[4];
  const int n = TrialCount();
  for (int i = 0; i < n; ++i) {
    const int kind = i % 4;
    Stats& s = kinds[kind];
    ++s.trials;
    uint64_t hidden = 0;
    bool detected = false;
    switch (kind) {
      case 0:
        detected = t.RestoreAcrossSync();
        break;
      case 1:
        detected = t.Fork();
        break;
      case 2:
        detected = t.EditUpload();
        break;
      default:
        detected = t.RestoreBetweenSyncs(hidden);
        if (!detected) s.max_hidden = std::max(s.max_hidden, hidden);
        break;
    }
    s.detected += detected ? 1 : 0;
    if (::testing::Test::HasFatalFailure()) return;
  }
  const char* names[] = {"restore across a sync", "fork (clone)",
                         "edited upload", "restore between syncs (counter)"};
  for (int k = 0; k < 4; ++k) {
    std::printf("%-34s %6d trials, %6d flagged at the next sync (%.2f%%)",
                names[k], kinds[k].trials, kinds[k].detected,
                100.0 * kinds[k].detected / std::max(1, kinds[k].trials));
    if (k == 3)
      std::printf(", most calls hidden unflagged: %llu (B = %llu)",
                  static_cast<unsigned long long>(kinds[k].max_hidden),
                  static_cast<unsigned long long>(kB));
    std::printf("\n");
  }
  for (int k = 0; k < 3; ++k)
    EXPECT_EQ(kinds[k].detected, kinds[k].trials) << names[k];
  EXPECT_LT(kinds[3].max_hidden, kB);
}

}  // namespace
}  // namespace fedtiny::meter::fixture
