#include "client/meter/meter.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/platform/linux/status_bridge.h"
#include "proto/meter_chain.h"
#include "tools/base/status_macros.h"

namespace fedtiny::meter {
namespace {

constexpr size_t kRecordBytes = 32;
constexpr size_t kMaxUsedGrantIds = 32;
// Records reserved ahead of a grant's calls (32 bytes each), so most calls
// append without allocating.
constexpr uint64_t kMaxReserve = 1 << 16;

void PutLe64(uint64_t v, std::string& out) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t GetLe64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::string HashString(const uint8_t (&h)[32]) {
  return std::string(reinterpret_cast<const char*>(h), 32);
}

}  // namespace

Meter::Meter(MeterOptions options, const crypto::EcPublicKey& server_key,
             client::Storage& storage, const client::Crypto& crypto,
             const Clock& clock, MonotonicCounter* counter, Sha256Context sha)
    : options_(std::move(options)),
      server_key_(server_key),
      storage_(storage),
      crypto_(crypto),
      clock_(clock),
      counter_(counter),
      sha_(std::move(sha)) {
  checkpoint_.set_device_id(options_.device_id);
  checkpoint_.set_package(options_.package);
  checkpoint_.set_chain_hash(std::string(32, '\0'));
}

absl::StatusOr<std::unique_ptr<Meter>> Meter::Open(
    MeterOptions options, const crypto::EcPublicKey& server_key,
    client::Storage& storage, const client::Crypto& crypto, const Clock& clock,
    MonotonicCounter* counter) {
  if (options.device_id.empty() || options.package.empty() ||
      options.state_path.empty() || options.persist_every == 0) {
    return absl::InvalidArgumentError(
        "meter: device_id, package, state_path and persist_every > 0 are "
        "required");
  }
  ASSIGN_OR_RETURN(Sha256Context sha, Sha256Context::Create());
  std::unique_ptr<Meter> meter(new Meter(std::move(options), server_key,
                                         storage, crypto, clock, counter,
                                         std::move(sha)));
  RETURN_IF_ERROR(meter->Load());
  return meter;
}

bool Meter::Link(uint8_t (&h)[32], const Record& r) {
  uint8_t link[kLinkBytes];
  EncodeLink(h, r.index, r.model_version, r.time_us, r.counter, link);
  return sha_.Digest(link, kLinkBytes, h);
}

std::string Meter::ChunkPath(uint64_t chunk) const {
  return absl::StrCat(options_.state_path, ".log.", chunk);
}

absl::Status Meter::Load() {
  client::StatusOr<std::string> bytes = storage_.ReadFile(options_.state_path);
  if (!bytes.ok() && bytes.status().code() == client::StatusCode::kNotFound) {
    return absl::OkStatus();
  }
  if (!bytes.ok()) return client::ToAbsl(bytes.status());
  MeterState state;
  if (!state.ParseFromString(*bytes) || state.head_hash().size() != 32) {
    return absl::DataLossError(
        absl::StrCat("meter: ", options_.state_path, " is corrupt"));
  }
  if (state.has_checkpoint()) {
    ASSIGN_OR_RETURN(checkpoint_, CheckCheckpoint(state.checkpoint()));
    signed_checkpoint_ = state.checkpoint();
  }
  if (state.has_grant()) {
    // Checked again: a stored grant that no longer verifies (an edited
    // file, a device that lost its counter) is dropped until the next sync.
    absl::StatusOr<QuotaGrant> g = ParseGrant(state.grant());
    if (g.ok()) {
      signed_grant_ = state.grant();
      grant_ = *std::move(g);
      has_grant_ = true;
    }
  }
  head_index_ = state.head_index();
  std::memcpy(head_hash_, state.head_hash().data(), 32);
  last_time_us_ = state.last_time_us();
  last_counter_ = state.last_counter();
  used_grant_ids_.assign(state.used_grant_ids().begin(),
                         state.used_grant_ids().end());
  return LoadRecords();
}

absl::Status Meter::LoadRecords() {
  const uint64_t n = options_.persist_every;
  uint8_t h[32];
  std::memcpy(h, checkpoint_.chain_hash().data(), 32);
  uint64_t next = checkpoint_.index() + 1;
  for (uint64_t k = checkpoint_.index() / n; next <= head_index_; ++k) {
    client::StatusOr<std::string> chunk = storage_.ReadFile(ChunkPath(k));
    if (!chunk.ok())
      return absl::DataLossError(absl::StrCat("meter: missing ", ChunkPath(k)));
    for (size_t off = 0;
         off + kRecordBytes <= chunk->size() && next <= head_index_;
         off += kRecordBytes) {
      const char* p = chunk->data() + off;
      Record r{GetLe64(p), GetLe64(p + 8),
               static_cast<int64_t>(GetLe64(p + 16)), GetLe64(p + 24)};
      if (r.index < next) continue;
      if (r.index != next) break;
      if (!Link(h, r)) return absl::InternalError("meter: SHA-256 failed");
      if (grant_.not_after_us() > 0 && r.time_us > grant_.not_after_us())
        ++grace_used_;
      pending_.push_back(r);
      ++next;
    }
    if (next <= head_index_ && next <= (k + 1) * n) {
      return absl::DataLossError(
          absl::StrCat("meter: ", ChunkPath(k), " is short"));
    }
  }
  if (!crypto_.ConstantTimeEquals(HashString(h), HashString(head_hash_))) {
    return absl::DataLossError(
        "meter: stored records do not hash to the stored head");
  }
  return absl::OkStatus();
}

absl::StatusOr<Checkpoint> Meter::CheckCheckpoint(
    const Signed& signed_checkpoint) const {
  if (signed_checkpoint.key_id() != server_key_.key_id()) {
    return absl::UnauthenticatedError(
        "meter: checkpoint signed by another key");
  }
  RETURN_IF_ERROR(server_key_.Verify(signed_checkpoint.payload(),
                                     signed_checkpoint.signature()));
  Checkpoint c;
  if (!c.ParseFromString(signed_checkpoint.payload()) ||
      c.chain_hash().size() != 32) {
    return absl::InvalidArgumentError("meter: malformed checkpoint");
  }
  if (c.device_id() != options_.device_id || c.package() != options_.package) {
    return absl::InvalidArgumentError(
        absl::StrCat("meter: checkpoint for ", c.device_id(), "/", c.package(),
                     ", not this device/package"));
  }
  return c;
}

absl::StatusOr<QuotaGrant> Meter::ParseGrant(const Signed& grant) const {
  if (grant.key_id() != server_key_.key_id()) {
    return absl::UnauthenticatedError("meter: grant signed by another key");
  }
  RETURN_IF_ERROR(server_key_.Verify(grant.payload(), grant.signature()));
  QuotaGrant g;
  if (!g.ParseFromString(grant.payload()) || g.grant_id().empty() ||
      g.calls() == 0 || g.not_after_us() <= g.issued_at_us() ||
      g.grace_us() < 0) {
    return absl::InvalidArgumentError("meter: malformed grant");
  }
  if (g.device_id() != options_.device_id || g.package() != options_.package) {
    return absl::InvalidArgumentError(
        absl::StrCat("meter: grant for ", g.device_id(), "/", g.package(),
                     ", not this device/package"));
  }
  if (g.counter_every() > 0 &&
      (counter_ == nullptr ||
       g.counter_every() % options_.persist_every != 0)) {
    return absl::FailedPreconditionError(
        "meter: grant binds a monotonic counter this device lacks, or at a "
        "period that is not a multiple of persist_every");
  }
  return g;
}

absl::StatusOr<QuotaGrant> Meter::CheckGrant(const Signed& grant,
                                             const Checkpoint& base) const {
  ASSIGN_OR_RETURN(QuotaGrant g, ParseGrant(grant));
  if (g.checkpoint_index() != base.index() ||
      g.checkpoint_hash() != base.chain_hash()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "meter: grant bound to checkpoint ", g.checkpoint_index(),
        ", this device holds ", base.index(), " (a stale or replayed grant)"));
  }
  if (std::find(used_grant_ids_.begin(), used_grant_ids_.end(), g.grant_id()) !=
      used_grant_ids_.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "meter: grant ", g.grant_id(), " was already installed (replayed)"));
  }
  return g;
}

absl::Status Meter::InstallGrant(const Signed& grant) {
  ASSIGN_OR_RETURN(QuotaGrant g, CheckGrant(grant, checkpoint_));
  Signed old_signed = signed_grant_;
  QuotaGrant old = grant_;
  const bool had = has_grant_;
  signed_grant_ = grant;
  grant_ = std::move(g);
  has_grant_ = true;
  used_grant_ids_.push_back(grant_.grant_id());
  if (used_grant_ids_.size() > kMaxUsedGrantIds)
    used_grant_ids_.erase(used_grant_ids_.begin());
  grace_used_ = 0;
  pending_.reserve(pending_.size() +
                   std::min<uint64_t>(grant_.calls(), kMaxReserve));
  absl::Status s = PersistHead();
  if (!s.ok()) {  // Leave the old grant in force.
    signed_grant_ = std::move(old_signed);
    grant_ = std::move(old);
    has_grant_ = had;
    used_grant_ids_.pop_back();
  }
  return s;
}

uint64_t Meter::remaining_calls() const {
  if (!has_grant_) return 0;
  const uint64_t used = head_index_ - grant_.checkpoint_index();
  return used >= grant_.calls() ? 0 : grant_.calls() - used;
}

absl::Status Meter::Admit(int64_t now_us) const {
  if (!has_grant_)
    return absl::FailedPreconditionError("meter: no quota grant");
  if (remaining_calls() == 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("meter: grant ", grant_.grant_id(), "'s ", grant_.calls(),
                     " calls are used; sync to get the next"));
  }
  if (now_us > grant_.not_after_us()) {
    if (now_us > grant_.not_after_us() + grant_.grace_us() ||
        grace_used_ >= grant_.grace_calls()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "meter: grant ", grant_.grant_id(), " expired; sync to renew"));
    }
  }
  return absl::OkStatus();
}

absl::Status Meter::Charge() {
  // Trusted time never goes back below the last record (a clock set back
  // gains nothing) nor below the grant's issue time.
  const int64_t now_us = std::max({absl::ToUnixMicros(clock_.Now()), last_time_us_,
                                   has_grant_ ? grant_.issued_at_us() : 0});
  RETURN_IF_ERROR(Admit(now_us));
  Record r{head_index_ + 1, options_.model_version, now_us, 0};
  if (grant_.counter_every() > 0 && r.index % grant_.counter_every() == 0) {
    ASSIGN_OR_RETURN(r.counter, counter_->Increment());
  }
  if (!Link(head_hash_, r)) return absl::InternalError("meter: SHA-256 failed");
  head_index_ = r.index;
  last_time_us_ = now_us;
  if (r.counter != 0) last_counter_ = r.counter;
  if (now_us > grant_.not_after_us()) ++grace_used_;
  pending_.push_back(r);
  if (r.index % options_.persist_every == 0) return Flush();
  return absl::OkStatus();
}

absl::Status Meter::Predict(client::Predictor& predictor, const float* inputs,
                            int64_t rows, client::Span<float> probabilities,
                            client::Span<int32_t> classes) {
  RETURN_IF_ERROR(Charge());
  return client::ToAbsl(
      predictor.Predict(inputs, rows, probabilities, classes));
}

absl::Status Meter::PersistChunk(uint64_t chunk) {
  const uint64_t n = options_.persist_every;
  std::string bytes;
  bytes.reserve(n * kRecordBytes);
  // The chunk is the tail of pending_ (it holds the head), or part of it.
  auto first = pending_.end();
  while (first != pending_.begin() &&
         (std::prev(first)->index - 1) / n >= chunk)
    --first;
  for (auto it = first; it != pending_.end(); ++it) {
    const Record& r = *it;
    if ((r.index - 1) / n != chunk) break;
    PutLe64(r.index, bytes);
    PutLe64(r.model_version, bytes);
    PutLe64(static_cast<uint64_t>(r.time_us), bytes);
    PutLe64(r.counter, bytes);
  }
  return client::ToAbsl(storage_.WriteFileAtomically(ChunkPath(chunk), bytes));
}

absl::Status Meter::PersistHead() {
  MeterState state;
  if (!signed_checkpoint_.payload().empty())
    *state.mutable_checkpoint() = signed_checkpoint_;
  if (has_grant_) *state.mutable_grant() = signed_grant_;
  state.set_head_index(head_index_);
  state.set_head_hash(HashString(head_hash_));
  state.set_last_time_us(last_time_us_);
  state.set_last_counter(last_counter_);
  for (const std::string& id : used_grant_ids_) state.add_used_grant_ids(id);
  return client::ToAbsl(storage_.WriteFileAtomically(
      options_.state_path, state.SerializeAsString()));
}

absl::Status Meter::Flush() {
  // Chunks before the head's were written when they filled.
  if (head_index_ > checkpoint_.index()) {
    RETURN_IF_ERROR(PersistChunk((head_index_ - 1) / options_.persist_every));
  }
  return PersistHead();
}

SyncRequest Meter::MakeSyncRequest() const {
  SyncRequest req;
  req.set_device_id(options_.device_id);
  req.set_package(options_.package);
  if (!signed_checkpoint_.payload().empty())
    *req.mutable_checkpoint() = signed_checkpoint_;
  for (const Record& r : pending_) {
    UsageRecord* u = req.add_records();
    u->set_index(r.index);
    u->set_model_version(r.model_version);
    u->set_time_us(r.time_us);
    u->set_counter(r.counter);
  }
  req.set_head_hash(HashString(head_hash_));
  if (has_grant_) req.set_grant_id(grant_.grant_id());
  return req;
}

absl::StatusOr<std::string> Meter::HashAt(uint64_t index) {
  uint8_t h[32];
  std::memcpy(h, checkpoint_.chain_hash().data(), 32);
  for (const Record& r : pending_) {
    if (r.index > index) break;
    if (!Link(h, r)) return absl::InternalError("meter: SHA-256 failed");
  }
  return HashString(h);
}

absl::Status Meter::AcceptSync(const SyncResponse& response) {
  ASSIGN_OR_RETURN(Checkpoint c, CheckCheckpoint(response.checkpoint()));
  if (c.index() < checkpoint_.index() || c.index() > head_index_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "meter: checkpoint at ", c.index(), " is outside this chain (",
        checkpoint_.index(), "..", head_index_, ")"));
  }
  ASSIGN_OR_RETURN(std::string at, HashAt(c.index()));
  if (!crypto_.ConstantTimeEquals(at, c.chain_hash())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "meter: checkpoint at ", c.index(), " does not match this chain"));
  }
  QuotaGrant g;
  if (response.has_grant()) {
    ASSIGN_OR_RETURN(g, CheckGrant(response.grant(), c));
  }
  // Commit, and put everything back if the state cannot be written.
  const Signed old_signed_checkpoint = signed_checkpoint_,
               old_signed_grant = signed_grant_;
  const Checkpoint old_checkpoint = checkpoint_;
  const QuotaGrant old_grant = grant_;
  const bool old_has_grant = has_grant_;
  const uint64_t old_grace_used = grace_used_;
  const std::vector<std::string> old_ids = used_grant_ids_;
  const std::vector<Record> old_pending = pending_;
  signed_checkpoint_ = response.checkpoint();
  checkpoint_ = std::move(c);
  pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                [&](const Record& r) {
                                  return r.index <= checkpoint_.index();
                                }),
                 pending_.end());
  if (response.has_grant()) {
    signed_grant_ = response.grant();
    grant_ = std::move(g);
    has_grant_ = true;
    used_grant_ids_.push_back(grant_.grant_id());
    if (used_grant_ids_.size() > kMaxUsedGrantIds)
      used_grant_ids_.erase(used_grant_ids_.begin());
    grace_used_ = 0;
    pending_.reserve(pending_.size() +
                     std::min<uint64_t>(grant_.calls(), kMaxReserve));
  }
  absl::Status s = Flush();
  if (s.ok()) {  // Chunks wholly at or below the checkpoint are garbage now.
    const uint64_t n = options_.persist_every;
    for (uint64_t k = old_checkpoint.index() / n; k < checkpoint_.index() / n;
         ++k) {
      storage_.Remove(ChunkPath(k)).IgnoreError();
    }
  }
  if (!s.ok()) {
    signed_checkpoint_ = old_signed_checkpoint;
    signed_grant_ = old_signed_grant;
    checkpoint_ = old_checkpoint;
    grant_ = old_grant;
    has_grant_ = old_has_grant;
    grace_used_ = old_grace_used;
    used_grant_ids_ = old_ids;
    pending_ = old_pending;
  }
  return s;
}

}  // namespace fedtiny::meter
