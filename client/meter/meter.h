// Metered on-device inference (issue #14, docs/metering.md): a Meter admits a
// call only under a quota grant the coordinator signed for this device and
// package, and extends a hash chain of usage records that the coordinator
// checks at the next sync (coordinator/meter/meter_ledger.h).
//
// Per call (Charge): the grant's checks, one SHA-256 over a 64-byte link
// (proto/meter_chain.h) and an append to a reserved vector; every
// counter_every calls (B, from the grant) one MonotonicCounter::Increment
// bound into the record; every persist_every calls (N, B a multiple of N) one
// chunk of N records and the head written with Storage::WriteFileAtomically.
// A crash loses at most the N-1 unpersisted records, which the device then
// re-uses: honest loss the server cannot see unless a counter binding was
// among them (then it sees a skipped counter value, METER_FLAG_GAP).
//
// Files: `state_path` (a MeterState) and `state_path`.log.<k>, chunk k holding
// indexes k*N+1 .. (k+1)*N as 32-byte little-endian records.
//
// Not thread-safe: one call at a time. Borrows the key, storage, crypto,
// clock and counter, which must outlive it.
#ifndef FEDTINY_CLIENT_METER_METER_H_
#define FEDTINY_CLIENT_METER_METER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/core/platform.h"
#include "client/core/predict.h"
#include "client/meter/monotonic_counter.h"
#include "proto/meter.pb.h"
#include "tools/base/clock.h"
#include "tools/base/crypto/ec_key.h"
#include "tools/base/sha256_context.h"

namespace fedtiny::meter {

// One usage record as the device holds it (UsageRecord on the wire).
struct Record {
  uint64_t index = 0;
  uint64_t model_version = 0;
  int64_t time_us = 0;
  uint64_t counter = 0;
};

struct MeterOptions {
  std::string device_id;
  std::string package;
  uint64_t model_version = 0;
  std::string state_path = "meter/state";
  uint64_t persist_every =
      64;  // N; the grant's counter_every must be a multiple.
};

class Meter {
 public:
  // Open loads the persisted state (a fresh one when there is none). `counter`
  // may be null (no hardware counter: grants asking for bindings are then
  // refused). kInvalidArgument for bad options; kDataLoss when the stored
  // records do not hash to the stored head; kInternal on storage errors.
  static absl::StatusOr<std::unique_ptr<Meter>> Open(
      MeterOptions options, const crypto::EcPublicKey& server_key,
      client::Storage& storage, const client::Crypto& crypto, const Clock& clock,
      MonotonicCounter* counter);

  // InstallGrant checks and installs a signed QuotaGrant. kUnauthenticated
  // for a bad signature or another key; kInvalidArgument for a malformed
  // grant or one for another device or package; kFailedPrecondition for a
  // grant bound to another checkpoint, a replayed grant id, or one needing a
  // counter this device lacks. Changes nothing on error.
  absl::Status InstallGrant(const Signed& grant);

  // Charge admits and records one call. kFailedPrecondition without a grant;
  // kResourceExhausted when its calls are used; kDeadlineExceeded past
  // not_after (+ grace); the counter's or storage's error otherwise (a
  // storage error leaves the call recorded in memory). Blocks on persistence
  // every N calls.
  absl::Status Charge();

  // Predict charges one call, then runs the predictor (predict.h's contract).
  absl::Status Predict(client::Predictor& predictor, const float* inputs,
                       int64_t rows, client::Span<float> probabilities,
                       client::Span<int32_t> classes);

  // Flush persists the records and head now (at shutdown, before a sync).
  absl::Status Flush();

  // MakeSyncRequest returns the usage since the held checkpoint.
  SyncRequest MakeSyncRequest() const;

  // AcceptSync takes the server's answer: a signed checkpoint on this chain
  // (kUnauthenticated / kInvalidArgument / kFailedPrecondition if not) and,
  // if present, the next grant (InstallGrant's checks). Changes nothing on
  // error.
  absl::Status AcceptSync(const SyncResponse& response);

  [[nodiscard]] const MeterOptions& options() const { return options_; }
  [[nodiscard]] uint64_t head_index() const { return head_index_; }
  [[nodiscard]] uint64_t checkpoint_index() const {
    return checkpoint_.index();
  }
  [[nodiscard]] size_t pending_records() const { return pending_.size(); }
  // remaining_calls returns the calls the grant still allows (0 without one).
  [[nodiscard]] uint64_t remaining_calls() const;

 private:
  Meter(MeterOptions options, const crypto::EcPublicKey& server_key,
        client::Storage& storage, const client::Crypto& crypto,
        const Clock& clock, MonotonicCounter* counter, Sha256Context sha);
  // Link replaces h by the next chain hash after record r; false if hashing
  // failed.
  [[nodiscard]] bool Link(uint8_t (&h)[32], const Record& r);
  absl::Status Load();
  absl::Status LoadRecords();
  absl::Status Admit(int64_t now_us) const;
  // ParseGrant checks the signature, form, device, package and counter;
  // CheckGrant also the checkpoint binding and replay.
  absl::StatusOr<QuotaGrant> ParseGrant(const Signed& grant) const;
  absl::StatusOr<QuotaGrant> CheckGrant(const Signed& grant,
                                        const Checkpoint& base) const;
  absl::StatusOr<Checkpoint> CheckCheckpoint(
      const Signed& signed_checkpoint) const;
  absl::StatusOr<std::string> HashAt(uint64_t index);
  absl::Status PersistChunk(uint64_t chunk);
  absl::Status PersistHead();
  std::string ChunkPath(uint64_t chunk) const;

  const MeterOptions options_;
  const crypto::EcPublicKey& server_key_;
  client::Storage& storage_;
  const client::Crypto& crypto_;
  // The wall clock grants expire by; its owner can set it (the Meter never
  // lets trusted time go back below the last time it recorded).
  const Clock& clock_;
  MonotonicCounter* const counter_;
  Sha256Context sha_;  // The per-call link's hash (OpenSSL, fetched once).

  Signed signed_checkpoint_;  // Empty before the first sync.
  Checkpoint checkpoint_;     // Index 0 and a zero hash before the first sync.
  Signed signed_grant_;
  QuotaGrant grant_;
  bool has_grant_ = false;
  uint64_t head_index_ = 0;
  uint8_t head_hash_[32] = {};
  int64_t last_time_us_ = 0;
  uint64_t last_counter_ = 0;
  uint64_t grace_used_ = 0;
  std::vector<std::string> used_grant_ids_;
  std::vector<Record> pending_;  // Indexes checkpoint+1 .. head, in order.
};

}  // namespace fedtiny::meter

#endif  // FEDTINY_CLIENT_METER_METER_H_
