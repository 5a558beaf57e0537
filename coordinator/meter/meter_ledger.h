// The coordinator's side of metered inference (issue #14, docs/metering.md):
// enrolls (device, package) pairs, checks each sync's usage records against the
// last checkpoint it signed, flags what it finds (proto/meter.proto's
// MeterFlag), signs the next checkpoint and grant, and keeps per-device usage
// for operators and billing.
//
// What a sync proves: the records hash from a checkpoint this ledger signed to
// the claimed head (else METER_FLAG_BAD_LINK); a sync from an older checkpoint
// than the latest either repeats the accepted chain (a lost response, fine)
// or diverges from it (METER_FLAG_FORK: a clone or a restored snapshot that
// made calls) or stops short of it (METER_FLAG_ROLLBACK: a restored state).
// Those three leave the checkpoint where it was and issue no grant. Index
// gaps, skipped or repeated counter values (METER_FLAG_GAP /
// METER_FLAG_ROLLBACK), times going back or ahead of the server
// (METER_FLAG_CLOCK_BACK) and calls beyond the grant (METER_FLAG_OVERUSE) are
// flagged, but the consistent chain is accepted and billed.
//
// Thread-safe (one mutex). Owns its signing key; borrows the clock, which
// must outlive it.
#ifndef FEDTINY_COORDINATOR_METER_METER_LEDGER_H_
#define FEDTINY_COORDINATOR_METER_METER_LEDGER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/clock.h"
#include "proto/meter.pb.h"
#include "tools/base/crypto/ec_key.h"

namespace fedtiny::meter {

struct LedgerOptions {
  uint64_t grant_calls = 10000;
  absl::Duration grant_validity = absl::Hours(24);
  absl::Duration grace = absl::Hours(72);  // Offline grace after not_after.
  uint64_t grace_calls = 1000;
  // B for devices enrolled with a monotonic counter (a multiple of their
  // Meter's persist_every).
  uint64_t counter_every = 256;
  absl::Duration clock_skew = absl::Minutes(5);  // Tolerated device clock lead.
  bool cut_off_on_flag = false;  // Stop granting after any flag.
  // Checkpoints remembered per pair; a sync from an older one is refused as
  // METER_FLAG_ROLLBACK without looking at its records.
  size_t checkpoints_kept = 64;
};

// ValidateLedgerOptions checks `options` for what a ledger can run with:
// grant_calls, counter_every and checkpoints_kept at least 1, grant_validity
// positive, grace and clock_skew not negative, every duration at most 10
// years (the grant's times stay far from int64 microseconds' limit).
// kInvalidArgument naming the field as `prefix` + its name (e.g. prefix
// "--meter_" names the coordinator's flag) and the value given.
absl::Status ValidateLedgerOptions(const LedgerOptions& options,
                                   const std::string& prefix);

// What operators see per (device, package).
struct DeviceUsage {
  std::string device_id;
  std::string package;
  uint64_t accepted_calls = 0;  // Billed: calls on the accepted chain.
  uint64_t disputed_calls = 0;  // Records of refused segments.
  uint64_t syncs = 0;
  uint64_t checkpoint_index = 0;
  std::map<MeterFlag, uint64_t> flag_counts;
  std::string last_flag_detail;
  absl::Time first_flag_time = absl::InfinitePast();  // InfinitePast: never.
  bool cut_off = false;
};

class MeterLedger {
 public:
  MeterLedger(crypto::EcPrivateKey key, LedgerOptions options,
              const coordinator::Clock& clock);

  // Enroll registers a device for a package and returns its first grant
  // (bound to checkpoint 0). `counter` is the value of the device's
  // monotonic counter, dedicated to the meter, at enrollment (nullopt: none);
  // every binding must then be the previous value + 1. Idempotent until the
  // first accepted sync: the same enrollment again (a device whose answer was
  // lost) gets the same grant (the same payload, signed again). kAlreadyExists
  // for an enrollment that differs (counter or none, another counter value)
  // or one after a sync; kFailedPrecondition for a repeat while cut off;
  // kInvalidArgument for empty names; kInternal if signing fails.
  absl::StatusOr<Signed> Enroll(const std::string& device_id,
                                const std::string& package,
                                std::optional<uint64_t> counter)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Sync checks `request` and answers with a checkpoint, flags and (unless
  // refused or cut off) the next grant. kNotFound for an unenrolled pair;
  // kInvalidArgument for a malformed request or a checkpoint this ledger did
  // not issue; kUnauthenticated for a bad checkpoint signature. Changes
  // nothing on error.
  absl::StatusOr<SyncResponse> Sync(const SyncRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_);

  // CutOff stops grants to a pair (kNotFound if unknown); Restore resumes them.
  absl::Status CutOff(const std::string& device_id, const std::string& package,
                      bool cut_off = true) ABSL_LOCKS_EXCLUDED(mu_);

  // Usage returns one pair's usage (kNotFound if unknown); AllUsage every
  // pair's.
  absl::StatusOr<DeviceUsage> Usage(const std::string& device_id,
                                    const std::string& package) const
      ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<DeviceUsage> AllUsage() const ABSL_LOCKS_EXCLUDED(mu_);

  // SaveState returns the whole ledger (entries, checkpoints, grants, usage)
  // as a serialized LedgerState, for a durable copy.
  std::string SaveState() const ABSL_LOCKS_EXCLUDED(mu_);
  // LoadState replaces the ledger's contents with a SaveState result.
  // kDataLoss if `bytes` do not parse; changes nothing then.
  absl::Status LoadState(const std::string& bytes) ABSL_LOCKS_EXCLUDED(mu_);

  [[nodiscard]] const crypto::EcPublicKey& public_key() const {
    return key_.public_key();
  }

 private:
  struct Accepted {
    std::string hash;
    uint64_t counter = 0;
    int64_t last_time_us = 0;
  };
  struct Entry {
    DeviceUsage usage;
    bool has_counter = false;
    uint64_t latest = 0;
    Signed latest_signed;
    std::map<uint64_t, Accepted> accepted;  // By checkpoint index.
    std::map<uint64_t, QuotaGrant>
        grants;  // The grant bound to each checkpoint.
  };
  struct Walk;

  static LedgerState::Entry ToProto(const Entry& e);
  static Entry FromProto(const LedgerState::Entry& p);

  absl::StatusOr<Signed> SignMessage(
      const google::protobuf::MessageLite& m) const;
  // RepeatEnrollment answers Enroll for an enrolled pair (see Enroll).
  absl::StatusOr<Signed> RepeatEnrollment(const Entry& e,
                                          std::optional<uint64_t> counter) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Signed> IssueGrant(Entry& e, uint64_t index)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Signed> IssueCheckpoint(Entry& e, uint64_t index, Accepted a)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // BaseOf returns the request's checkpoint index, nullopt when it is older
  // than every kept checkpoint.
  absl::StatusOr<std::optional<uint64_t>> BaseOf(
      const Entry& e, const SyncRequest& request) const;
  Walk WalkSegment(const Entry& e, uint64_t base,
                   const SyncRequest& request) const;

  const crypto::EcPrivateKey key_;
  const LedgerOptions options_;
  const coordinator::Clock& clock_;
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, Entry> entries_
      ABSL_GUARDED_BY(mu_);
  uint64_t next_grant_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace fedtiny::meter

#endif  // FEDTINY_COORDINATOR_METER_METER_LEDGER_H_
