#include "coordinator/meter/meter_ledger.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/meter_chain.h"
#include "tools/base/status_macros.h"

namespace fedtiny::meter {

// What one pass over a segment found.
struct MeterLedger::Walk {
  std::vector<std::pair<MeterFlag, std::string>> flags;
  std::optional<std::string> hash_at_latest;
  uint64_t last_index = 0;
  Accepted end;
  bool fatal = false;
  absl::Status status;  // Not OK only if hashing failed.

  void Flag(MeterFlag f, std::string detail) {
    for (const auto& [g, d] : flags) {
      if (g == f) return;  // The first reason of each kind is enough.
    }
    flags.emplace_back(f, std::move(detail));
  }
};

absl::Status ValidateLedgerOptions(const LedgerOptions& o,
                                   const std::string& prefix) {
  const auto bad = [&prefix](const char* field, const std::string& got,
                             const char* want) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, field, " is ", got, "; it must be ", want));
  };
  const absl::Duration kLongest = absl::Hours(24 * 3650);
  const auto check = [&](const char* field, absl::Duration d, bool positive) {
    if ((positive ? d <= absl::ZeroDuration() : d < absl::ZeroDuration()) ||
        d > kLongest) {
      return bad(field, absl::FormatDuration(d),
                 positive ? "positive and at most 87600h (10 years)"
                          : "0 or more and at most 87600h (10 years)");
    }
    return absl::OkStatus();
  };
  if (o.grant_calls < 1) return bad("grant_calls", "0", "at least 1");
  RETURN_IF_ERROR(check("grant_validity", o.grant_validity, true));
  RETURN_IF_ERROR(check("grace", o.grace, false));
  if (o.counter_every < 1) {
    return bad("counter_every", "0",
               "at least 1 (and a multiple of the devices' persist_every, 64 by default)");
  }
  RETURN_IF_ERROR(check("clock_skew", o.clock_skew, false));
  if (o.checkpoints_kept < 1) return bad("checkpoints_kept", "0", "at least 1");
  return absl::OkStatus();
}

MeterLedger::MeterLedger(crypto::EcPrivateKey key, LedgerOptions options,
                         const coordinator::Clock& clock)
    : key_(std::move(key)), options_(options), clock_(clock) {}

absl::StatusOr<Signed> MeterLedger::SignMessage(
    const google::protobuf::MessageLite& m) const {
  Signed s;
  s.set_payload(m.SerializeAsString());
  ASSIGN_OR_RETURN(*s.mutable_signature(), key_.Sign(s.payload()));
  s.set_key_id(key_.public_key().key_id());
  return s;
}

absl::StatusOr<Signed> MeterLedger::IssueGrant(Entry& e, uint64_t index) {
  const int64_t now = absl::ToUnixMicros(clock_.Now());
  QuotaGrant g;
  g.set_device_id(e.usage.device_id);
  g.set_package(e.usage.package);
  g.set_calls(options_.grant_calls);
  g.set_not_after_us(now + absl::ToInt64Microseconds(options_.grant_validity));
  g.set_checkpoint_index(index);
  g.set_checkpoint_hash(e.accepted.at(index).hash);
  g.set_grant_id(absl::StrCat("g", next_grant_++, "-", e.usage.device_id));
  g.set_issued_at_us(now);
  g.set_grace_us(absl::ToInt64Microseconds(options_.grace));
  g.set_grace_calls(options_.grace_calls);
  if (e.has_counter) g.set_counter_every(options_.counter_every);
  ASSIGN_OR_RETURN(Signed s, SignMessage(g));
  e.grants[index] = std::move(g);
  return s;
}

absl::StatusOr<Signed> MeterLedger::IssueCheckpoint(Entry& e, uint64_t index,
                                                    Accepted a) {
  Checkpoint c;
  c.set_device_id(e.usage.device_id);
  c.set_package(e.usage.package);
  c.set_index(index);
  c.set_chain_hash(a.hash);
  c.set_counter(a.counter);
  c.set_issued_at_us(absl::ToUnixMicros(clock_.Now()));
  ASSIGN_OR_RETURN(Signed s, SignMessage(c));
  e.accepted[index] = std::move(a);
  while (e.accepted.size() > std::max<size_t>(options_.checkpoints_kept, 1)) {
    e.grants.erase(e.grants.begin(),
                   e.grants.upper_bound(e.accepted.begin()->first));
    e.accepted.erase(e.accepted.begin());
  }
  e.latest = index;
  e.latest_signed = s;
  e.usage.checkpoint_index = index;
  return s;
}

absl::StatusOr<Signed> MeterLedger::Enroll(const std::string& device_id,
                                           const std::string& package,
                                           std::optional<uint64_t> counter) {
  if (device_id.empty() || package.empty()) {
    return absl::InvalidArgumentError(
        "meter: enroll needs a device id and a package");
  }
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = entries_.try_emplace({device_id, package});
  if (!inserted) return RepeatEnrollment(it->second, counter);
  Entry& e = it->second;
  e.usage.device_id = device_id;
  e.usage.package = package;
  e.has_counter = counter.has_value();
  absl::StatusOr<Signed> c = IssueCheckpoint(
      e, 0, Accepted{std::string(32, '\0'), counter.value_or(0), 0});
  absl::StatusOr<Signed> g = c.ok() ? IssueGrant(e, 0) : c.status();
  if (!g.ok()) entries_.erase(it);
  return g;
}

namespace {

std::string CounterText(std::optional<uint64_t> counter) {
  return counter ? absl::StrCat("with counter ", *counter) : "without a counter";
}

}  // namespace

absl::StatusOr<Signed> MeterLedger::RepeatEnrollment(
    const Entry& e, std::optional<uint64_t> counter) const {
  const std::string pair = absl::StrCat(e.usage.device_id, "/", e.usage.package);
  auto grant = e.grants.find(0);
  if (e.latest != 0 || grant == e.grants.end()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "meter: ", pair, " is enrolled and has synced: it syncs from its checkpoint, "
        "it does not enroll again"));
  }
  const std::optional<uint64_t> enrolled =
      e.has_counter ? std::optional<uint64_t>(e.accepted.at(0).counter) : std::nullopt;
  if (counter != enrolled) {
    return absl::AlreadyExistsError(absl::StrCat(
        "meter: ", pair, " is enrolled ", CounterText(enrolled), "; an enrollment ",
        CounterText(counter), " is refused (only the same enrollment may be repeated)"));
  }
  if (e.usage.cut_off) {
    return absl::FailedPreconditionError(absl::StrCat("meter: ", pair, " is cut off"));
  }
  // The same grant (same payload, grant id and times), signed again.
  return SignMessage(grant->second);
}

absl::StatusOr<std::optional<uint64_t>> MeterLedger::BaseOf(
    const Entry& e, const SyncRequest& request) const {
  const uint64_t oldest_kept = e.accepted.begin()->first;
  if (!request.has_checkpoint()) {
    if (oldest_kept > 0) return std::nullopt;
    return 0;
  }
  const Signed& s = request.checkpoint();
  if (s.key_id() != key_.public_key().key_id()) {
    return absl::InvalidArgumentError(
        "meter: checkpoint signed by another key");
  }
  RETURN_IF_ERROR(key_.public_key().Verify(s.payload(), s.signature()));
  Checkpoint c;
  if (!c.ParseFromString(s.payload()) || c.device_id() != e.usage.device_id ||
      c.package() != e.usage.package) {
    return absl::InvalidArgumentError(
        "meter: malformed checkpoint or one for another device");
  }
  if (c.index() < oldest_kept) return std::nullopt;
  auto it = e.accepted.find(c.index());
  if (it == e.accepted.end() || it->second.hash != c.chain_hash()) {
    return absl::InvalidArgumentError(
        "meter: checkpoint not issued by this ledger");
  }
  return c.index();
}

MeterLedger::Walk MeterLedger::WalkSegment(const Entry& e, uint64_t base,
                                           const SyncRequest& request) const {
  Walk w;
  const Accepted& from = e.accepted.at(base);
  auto git = e.grants.find(base);
  const QuotaGrant* grant = git == e.grants.end() ? nullptr : &git->second;
  const int64_t now = absl::ToUnixMicros(clock_.Now());
  const int64_t skew = absl::ToInt64Microseconds(options_.clock_skew);
  absl::StatusOr<Sha256Digest> h = HashOfBytes(from.hash);
  w.end = from;
  uint64_t expected = base + 1, grace_used = 0;
  for (const UsageRecord& r : request.records()) {
    if (r.index() != expected) {
      w.Flag(METER_FLAG_GAP, absl::StrCat("index ", r.index(), " where ",
                                          expected, " was due"));
    }
    h = NextHash(*h, r);
    if (!h.ok()) {
      w.status = h.status();
      return w;
    }
    if (r.index() == e.latest) w.hash_at_latest = AsBytes(*h);
    if (r.time_us() < w.end.last_time_us || r.time_us() > now + skew ||
        (grant != nullptr && r.time_us() < grant->issued_at_us())) {
      w.Flag(METER_FLAG_CLOCK_BACK,
             absl::StrCat("record ", r.index(), " at time ", r.time_us(),
                          " after ", w.end.last_time_us));
    }
    if (grant == nullptr || r.index() - base > grant->calls()) {
      w.Flag(METER_FLAG_OVERUSE,
             absl::StrCat("record ", r.index(), " beyond the grant"));
    } else if (r.time_us() > grant->not_after_us() &&
               (++grace_used > grant->grace_calls() ||
                r.time_us() > grant->not_after_us() + grant->grace_us())) {
      w.Flag(METER_FLAG_OVERUSE,
             absl::StrCat("record ", r.index(), " after the grant expired"));
    }
    const uint64_t every = grant == nullptr ? 0 : grant->counter_every();
    if (every > 0 && r.index() % every == 0) {
      const uint64_t last = w.end.counter;
      if (r.counter() == 0) {
        w.Flag(METER_FLAG_GAP,
               absl::StrCat("record ", r.index(), " lacks its counter"));
      } else if (r.counter() <= last) {
        w.Flag(METER_FLAG_ROLLBACK,
               absl::StrCat("counter ", r.counter(), " at record ", r.index(),
                            " after ", last));
      } else if (r.counter() > last + 1) {
        w.Flag(
            METER_FLAG_GAP,
            absl::StrCat("counter skipped ", r.counter() - last - 1,
                         " values before record ", r.index(), " (up to ",
                         (r.counter() - last - 1) * every, " calls unseen)"));
      }
      if (r.counter() != 0) w.end.counter = r.counter();
    }
    w.end.last_time_us = std::max(w.end.last_time_us, r.time_us());
    w.last_index = r.index();
    expected = r.index() + 1;
  }
  w.end.hash = AsBytes(*h);
  if (w.end.hash != request.head_hash()) {
    w.fatal = true;
    w.Flag(METER_FLAG_BAD_LINK, "the records do not hash to the claimed head");
  }
  if (base < e.latest) {
    if (w.hash_at_latest == e.accepted.at(e.latest).hash)
      return w;  // A repeat.
    w.fatal = true;
    if (w.hash_at_latest.has_value()) {
      w.Flag(METER_FLAG_FORK,
             absl::StrCat("a second continuation of checkpoint ", base,
                          " diverging before ", e.latest));
    } else {
      w.Flag(METER_FLAG_ROLLBACK,
             absl::StrCat("continues from checkpoint ", base,
                          ", older than the accepted ", e.latest));
    }
  }
  return w;
}

absl::StatusOr<SyncResponse> MeterLedger::Sync(const SyncRequest& request) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find({request.device_id(), request.package()});
  if (it == entries_.end()) {
    return absl::NotFoundError(absl::StrCat("meter: ", request.device_id(), "/",
                                            request.package(),
                                            " is not enrolled"));
  }
  Entry& e = it->second;
  ASSIGN_OR_RETURN(std::optional<uint64_t> base, BaseOf(e, request));
  Walk w;
  if (base.has_value()) {
    w = WalkSegment(e, *base, request);
    RETURN_IF_ERROR(w.status);
  } else {
    w.fatal = true;
    w.Flag(METER_FLAG_ROLLBACK,
           absl::StrCat("continues from a checkpoint older than the ",
                        options_.checkpoints_kept, " kept"));
  }
  SyncResponse resp;
  const absl::Time now = clock_.Now();
  for (const auto& [flag, detail] : w.flags) {
    resp.add_flags(flag);
    ++e.usage.flag_counts[flag];
    e.usage.last_flag_detail = detail;
    if (e.usage.first_flag_time == absl::InfinitePast())
      e.usage.first_flag_time = now;
    absl::StrAppend(resp.mutable_detail(), resp.detail().empty() ? "" : "; ",
                    detail);
  }
  ++e.usage.syncs;
  if (!w.flags.empty() && options_.cut_off_on_flag) e.usage.cut_off = true;
  if (w.fatal) {
    e.usage.disputed_calls += static_cast<uint64_t>(request.records_size());
    *resp.mutable_checkpoint() = e.latest_signed;
    return resp;
  }
  const uint64_t index = std::max(e.latest, w.last_index);
  if (index > e.latest) {
    e.usage.accepted_calls += index - e.latest;
    ASSIGN_OR_RETURN(*resp.mutable_checkpoint(),
                     IssueCheckpoint(e, index, w.end));
  } else {
    *resp.mutable_checkpoint() = e.latest_signed;
  }
  if (!e.usage.cut_off) {
    ASSIGN_OR_RETURN(*resp.mutable_grant(), IssueGrant(e, index));
  }
  return resp;
}

absl::Status MeterLedger::CutOff(const std::string& device_id,
                                 const std::string& package, bool cut_off) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find({device_id, package});
  if (it == entries_.end()) {
    return absl::NotFoundError(
        absl::StrCat("meter: ", device_id, "/", package, " unknown"));
  }
  it->second.usage.cut_off = cut_off;
  return absl::OkStatus();
}

absl::StatusOr<DeviceUsage> MeterLedger::Usage(
    const std::string& device_id, const std::string& package) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find({device_id, package});
  if (it == entries_.end()) {
    return absl::NotFoundError(
        absl::StrCat("meter: ", device_id, "/", package, " unknown"));
  }
  return it->second.usage;
}

std::vector<DeviceUsage> MeterLedger::AllUsage() const {
  absl::MutexLock lock(&mu_);
  std::vector<DeviceUsage> all;
  for (const auto& [key, e] : entries_) all.push_back(e.usage);
  return all;
}

LedgerState::Entry MeterLedger::ToProto(const Entry& e) {
  LedgerState::Entry p;
  const DeviceUsage& u = e.usage;
  p.set_device_id(u.device_id);
  p.set_package(u.package);
  p.set_accepted_calls(u.accepted_calls);
  p.set_disputed_calls(u.disputed_calls);
  p.set_syncs(u.syncs);
  for (const auto& [flag, count] : u.flag_counts) {
    LedgerState::FlagCount* f = p.add_flag_counts();
    f->set_flag(flag);
    f->set_count(count);
  }
  p.set_last_flag_detail(u.last_flag_detail);
  if (u.first_flag_time != absl::InfinitePast()) {
    p.set_flagged(true);
    p.set_first_flag_time_us(absl::ToUnixMicros(u.first_flag_time));
  }
  p.set_cut_off(u.cut_off);
  p.set_has_counter(e.has_counter);
  p.set_latest(e.latest);
  *p.mutable_latest_signed() = e.latest_signed;
  for (const auto& [index, a] : e.accepted) {
    LedgerState::Accepted* out = p.add_accepted();
    out->set_index(index);
    out->set_hash(a.hash);
    out->set_counter(a.counter);
    out->set_last_time_us(a.last_time_us);
  }
  for (const auto& [index, g] : e.grants) *p.add_grants() = g;
  return p;
}

MeterLedger::Entry MeterLedger::FromProto(const LedgerState::Entry& p) {
  Entry e;
  DeviceUsage& u = e.usage;
  u.device_id = p.device_id();
  u.package = p.package();
  u.accepted_calls = p.accepted_calls();
  u.disputed_calls = p.disputed_calls();
  u.syncs = p.syncs();
  for (const LedgerState::FlagCount& f : p.flag_counts()) {
    u.flag_counts[f.flag()] = f.count();
  }
  u.last_flag_detail = p.last_flag_detail();
  if (p.flagged()) u.first_flag_time = absl::FromUnixMicros(p.first_flag_time_us());
  u.cut_off = p.cut_off();
  u.checkpoint_index = p.latest();
  e.has_counter = p.has_counter();
  e.latest = p.latest();
  e.latest_signed = p.latest_signed();
  for (const LedgerState::Accepted& a : p.accepted()) {
    e.accepted[a.index()] = Accepted{a.hash(), a.counter(), a.last_time_us()};
  }
  for (const QuotaGrant& g : p.grants()) e.grants[g.checkpoint_index()] = g;
  return e;
}

std::string MeterLedger::SaveState() const {
  absl::MutexLock lock(&mu_);
  LedgerState state;
  state.set_next_grant(next_grant_);
  for (const auto& [key, e] : entries_) *state.add_entries() = ToProto(e);
  return state.SerializeAsString();
}

absl::Status MeterLedger::LoadState(const std::string& bytes) {
  LedgerState state;
  if (!state.ParseFromString(bytes)) {
    return absl::DataLossError("meter: the ledger state does not parse");
  }
  std::map<std::pair<std::string, std::string>, Entry> entries;
  for (const LedgerState::Entry& p : state.entries()) {
    if (p.accepted().empty() || p.accepted().rbegin()->index() != p.latest()) {
      return absl::DataLossError(absl::StrCat(
          "meter: the ledger state of ", p.device_id(), "/", p.package(),
          " lacks its latest checkpoint"));
    }
    entries[{p.device_id(), p.package()}] = FromProto(p);
  }
  absl::MutexLock lock(&mu_);
  entries_ = std::move(entries);
  next_grant_ = std::max<uint64_t>(state.next_grant(), 1);
  return absl::OkStatus();
}

}  // namespace fedtiny::meter
