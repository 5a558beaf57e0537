#include "coordinator/telemetry/aggregates.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "coordinator/telemetry/telemetry_state.pb.h"
#include "tools/base/atomic_file.h"
#include "tools/base/sha256.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator::telemetry {

namespace {

constexpr absl::string_view kMagic = "fedtiny-telemetry-1\n";

absl::StatusOr<std::string> HexDigest(absl::string_view data) {
  ASSIGN_OR_RETURN(Sha256Digest d, Sha256(data));
  return DigestToHex(d);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Aggregates>> Aggregates::Open(Options options) {
  std::unique_ptr<Aggregates> a(new Aggregates(std::move(options)));
  absl::MutexLock lock(&a->mu_);
  RETURN_IF_ERROR(a->Load());
  return a;
}

absl::Status Aggregates::Load() {
  if (options_.path.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> file = ReadFile(options_.path);
  if (absl::IsNotFound(file.status())) return absl::OkStatus();
  RETURN_IF_ERROR(file.status());
  // Layout: magic, 64 hex digits of SHA-256(payload), '\n', payload.
  const size_t header = kMagic.size() + 65;
  if (!absl::StartsWith(*file, kMagic) || file->size() < header ||
      (*file)[header - 1] != '\n') {
    return absl::DataLossError(
        absl::StrCat(options_.path, ": not a telemetry state file"));
  }
  const absl::string_view payload = absl::string_view(*file).substr(header);
  ASSIGN_OR_RETURN(std::string digest, HexDigest(payload));
  fedtiny::telemetry_state::TelemetryState state;
  if (file->substr(kMagic.size(), 64) != digest ||
      !state.ParseFromArray(payload.data(), payload.size())) {
    return absl::DataLossError(
        absl::StrCat(options_.path, ": checksum mismatch"));
  }
  for (const auto& c : state.cells()) {
    CellCounts& counts =
        cells_[CellKey{c.task(), c.model_version(), c.device_class(),
                       c.variant(), c.window_start_unix_s()}];
    counts.reports = c.reports();
    for (const auto& p : c.probes()) {
      counts.probes[p.probe()].assign(p.counts().begin(), p.counts().end());
    }
  }
  return absl::OkStatus();
}

absl::Status Aggregates::Persist() const {
  if (options_.path.empty()) return absl::OkStatus();
  fedtiny::telemetry_state::TelemetryState state;
  for (const auto& [key, counts] : cells_) {
    auto* c = state.add_cells();
    c->set_task(key.task);
    c->set_model_version(key.model_version);
    c->set_device_class(key.device_class);
    c->set_variant(key.variant);
    c->set_window_start_unix_s(key.window_start);
    c->set_reports(counts.reports);
    for (const auto& [probe, bins] : counts.probes) {
      auto* p = c->add_probes();
      p->set_probe(probe);
      p->mutable_counts()->Add(bins.begin(), bins.end());
    }
  }
  const std::string payload = state.SerializeAsString();
  ASSIGN_OR_RETURN(std::string digest, HexDigest(payload));
  return WriteFileAtomically(options_.path,
                             absl::StrCat(kMagic, digest, "\n", payload), 0600);
}

absl::Status Aggregates::Add(const CellKey& key,
                             const std::vector<BinValue>& values,
                             int64_t drop_before) {
  absl::MutexLock lock(&mu_);
  int64_t in_window = 0;
  for (const auto& [k, c] : cells_) {
    if (k.task == key.task && k.window_start == key.window_start)
      in_window += c.reports;
  }
  if (in_window >= options_.max_reports_per_window) {
    return absl::ResourceExhaustedError(
        absl::StrCat("task ", key.task, " has ", in_window,
                     " reports in this window: no more are taken"));
  }
  const auto existing = cells_.find(key);
  for (const BinValue& v : values) {
    if (existing == cells_.end()) break;
    auto p = existing->second.probes.find(v.probe);
    if (p != existing->second.probes.end() &&
        static_cast<int>(p->second.size()) != v.bins) {
      return absl::InvalidArgumentError(
          absl::StrCat("probe ", v.probe, " has ", p->second.size(),
                       " bins here, not ", v.bins));
    }
  }
  // Apply to a copy, write it, then keep it: a failed write changes nothing.
  std::map<CellKey, CellCounts> next = cells_;
  for (auto it = next.begin(); it != next.end();) {
    it = it->first.task == key.task && it->first.window_start < drop_before
             ? next.erase(it)
             : std::next(it);
  }
  CellCounts& cell = next[key];
  ++cell.reports;
  for (const BinValue& v : values) {
    std::vector<int64_t>& bins = cell.probes[v.probe];
    bins.resize(v.bins, 0);
    ++bins[v.bin];
  }
  std::swap(cells_, next);
  if (absl::Status s = Persist(); !s.ok()) {
    std::swap(cells_, next);
    return absl::InternalError(
        absl::StrCat("telemetry state not saved: ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status Aggregates::DropTask(const std::string& task) {
  absl::MutexLock lock(&mu_);
  std::map<CellKey, CellCounts> next = cells_;
  for (auto it = next.begin(); it != next.end();) {
    it = it->first.task == task ? next.erase(it) : std::next(it);
  }
  if (next.size() == cells_.size()) return absl::OkStatus();
  std::swap(cells_, next);
  if (absl::Status s = Persist(); !s.ok()) {
    std::swap(cells_, next);
    return absl::InternalError(
        absl::StrCat("telemetry state not saved: ", s.message()));
  }
  return absl::OkStatus();
}

std::map<CellKey, CellCounts> Aggregates::Snapshot(
    const std::string& task) const {
  absl::MutexLock lock(&mu_);
  if (task.empty()) return cells_;
  std::map<CellKey, CellCounts> out;
  for (const auto& [k, c] : cells_) {
    if (k.task == task) out.emplace(k, c);
  }
  return out;
}

}  // namespace fedtiny::coordinator::telemetry
