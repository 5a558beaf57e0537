#include "coordinator/memory_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "tools/base/sha256.h"

namespace fedtiny::coordinator {

absl::Status MemoryStore::InsertVersions(const std::vector<VersionRow>& versions) {
  for (const VersionRow& v : versions) {
    if (versions_.count({v.task, v.version, v.cluster})) {
      return absl::AlreadyExistsError(absl::StrCat("version ", v.version, " of ", v.task,
                                                   " cluster ", v.cluster, " exists"));
    }
  }
  for (const VersionRow& v : versions) {
    VersionRow& row = versions_[{v.task, v.version, v.cluster}];
    row = v;
    row.pruned = false;
  }
  return absl::OkStatus();
}

absl::Status MemoryStore::CreateTask(const TaskRow& task, const std::vector<VersionRow>& initial) {
  absl::MutexLock lock(&mu_);
  if (tasks_.count(task.name)) {
    return absl::AlreadyExistsError(absl::StrCat("task ", task.name, " exists"));
  }
  absl::Status s = InsertVersions(initial);
  if (s.ok()) tasks_[task.name] = task;
  return s;
}

absl::Status MemoryStore::CheckTaskExists(const std::string& task) const {
  if (!tasks_.count(task)) return absl::NotFoundError(absl::StrCat("no task ", task));
  return absl::OkStatus();
}

absl::Status MemoryStore::SetTaskState(const std::string& task, int state) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckTaskExists(task); !s.ok()) return s;
  tasks_[task].state = state;
  return absl::OkStatus();
}

absl::Status MemoryStore::UpdateTaskConfig(const std::string& task, const std::string& config) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckTaskExists(task); !s.ok()) return s;
  tasks_[task].config = config;
  return absl::OkStatus();
}

absl::Status MemoryStore::DeleteTask(const std::string& task) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckTaskExists(task); !s.ok()) return s;
  tasks_.erase(task);
  for (auto it = rounds_.begin(); it != rounds_.end();) {
    it = it->first.first == task ? rounds_.erase(it) : std::next(it);
  }
  for (auto it = versions_.begin(); it != versions_.end();) {
    it = std::get<0>(it->first) == task ? versions_.erase(it) : std::next(it);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TaskRow>> MemoryStore::Tasks() {
  absl::MutexLock lock(&mu_);
  std::vector<TaskRow> out;
  for (const auto& [name, t] : tasks_) out.push_back(t);
  std::stable_sort(out.begin(), out.end(),
                   [](const TaskRow& a, const TaskRow& b) { return a.created_ms < b.created_ms; });
  return out;
}

absl::Status MemoryStore::OpenRound(const RoundRow& r) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckTaskExists(r.task); !s.ok()) return s;
  if (!rounds_.emplace(std::pair(r.task, r.round), r).second) {
    return absl::AlreadyExistsError(absl::StrCat("round ", r.round, " of ", r.task, " exists"));
  }
  rounds_[{r.task, r.round}].state = RoundState::kOpen;
  return absl::OkStatus();
}

absl::Status MemoryStore::CloseRound(const RoundRow& r, const std::vector<VersionRow>& versions) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckTaskExists(r.task); !s.ok()) return s;
  auto it = rounds_.find({r.task, r.round});
  if (it != rounds_.end() && it->second.state != RoundState::kOpen) {
    return absl::AlreadyExistsError(absl::StrCat("round ", r.round, " of ", r.task, " is already closed"));
  }
  // Stricter than SqliteStore (which writes what it is given and checks at read):
  // a blob that does not match its hash is refused here, so a caller's bug shows
  // at the commit that made it.
  for (const VersionRow& v : versions) {
    absl::StatusOr<Sha256Digest> d = Sha256(v.model);
    if (!d.ok()) return d.status();
    if (DigestToHex(*d) != v.sha256_hex) return absl::InvalidArgumentError("blob does not match its hash");
  }
  if (absl::Status s = InsertVersions(versions); !s.ok()) return s;
  rounds_[{r.task, r.round}] = r;
  return absl::OkStatus();
}

absl::Status MemoryStore::CommitVersions(const std::vector<VersionRow>& versions) {
  absl::MutexLock lock(&mu_);
  for (const VersionRow& v : versions) {
    if (absl::Status s = CheckTaskExists(v.task); !s.ok()) return s;
  }
  return InsertVersions(versions);
}

absl::StatusOr<std::string> MemoryStore::ReadBlob(const VersionRow& version) {
  absl::MutexLock lock(&mu_);
  auto it = versions_.find({version.task, version.version, version.cluster});
  if (it == versions_.end()) return absl::NotFoundError("no such version");
  if (it->second.pruned) return absl::NotFoundError("pruned by the retention policy");
  absl::StatusOr<Sha256Digest> d = Sha256(it->second.model);
  if (!d.ok() || DigestToHex(*d) != it->second.sha256_hex) {
    return absl::DataLossError("blob does not match its hash");
  }
  return it->second.model;
}

absl::StatusOr<int> MemoryStore::AbandonOpenRounds(int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (auto& [key, r] : rounds_) {
    if (r.state != RoundState::kOpen) continue;
    r.state = RoundState::kAbandoned;
    r.closed_ms = now_ms;
    ++n;
  }
  return n;
}

absl::StatusOr<std::vector<RoundRow>> MemoryStore::Rounds(const std::string& task, int limit) {
  absl::MutexLock lock(&mu_);
  std::vector<RoundRow> out;
  for (auto it = rounds_.rbegin(); it != rounds_.rend(); ++it) {
    if (it->first.first != task) continue;
    if (limit > 0 && static_cast<int>(out.size()) >= limit) break;
    out.push_back(it->second);
  }
  return out;
}

absl::StatusOr<int64_t> MemoryStore::LastRound(const std::string& task) {
  absl::MutexLock lock(&mu_);
  int64_t last = 0;
  for (const auto& [key, r] : rounds_) {
    if (key.first == task) last = std::max(last, key.second);
  }
  return last;
}

absl::StatusOr<std::vector<VersionRow>> MemoryStore::Versions(const std::string& task) {
  absl::MutexLock lock(&mu_);
  std::vector<VersionRow> out;
  for (const auto& [key, v] : versions_) {
    if (std::get<0>(key) != task) continue;
    out.push_back(v);
    out.back().model.clear();
  }
  return out;
}

absl::StatusOr<std::vector<VersionRow>> MemoryStore::LatestVersions(const std::string& task) {
  absl::MutexLock lock(&mu_);
  std::map<int, const VersionRow*> newest;
  for (const auto& [key, v] : versions_) {
    if (std::get<0>(key) == task) newest[v.cluster] = &v;  // Ordered by version.
  }
  std::vector<VersionRow> out;
  for (const auto& [cluster, v] : newest) out.push_back(*v);
  return out;
}

absl::Status MemoryStore::SetPinned(const std::string& task, int32_t cluster, int64_t version,
                                    bool pinned) {
  absl::MutexLock lock(&mu_);
  auto it = versions_.find({task, version, cluster});
  if (it == versions_.end()) {
    return absl::NotFoundError(
        absl::StrCat("task ", task, " has no version ", version, " of cluster ", cluster));
  }
  if (pinned && it->second.pruned) {
    return absl::FailedPreconditionError(absl::StrCat(
        "version ", version, " of cluster ", cluster, " was pruned: its blob is gone"));
  }
  it->second.pinned = pinned;
  return absl::OkStatus();
}

absl::StatusOr<int> MemoryStore::Prune(const std::string& task, int keep) {
  if (keep < 1) return absl::InvalidArgumentError("retention keeps at least one version");
  absl::MutexLock lock(&mu_);
  std::map<int, int> seen;  // Cluster -> newer versions seen so far.
  int pruned = 0;
  for (auto it = versions_.rbegin(); it != versions_.rend(); ++it) {  // Newest first.
    VersionRow& v = it->second;
    if (v.task != task) continue;
    if (++seen[v.cluster] <= keep || v.pinned || v.pruned) continue;
    v.pruned = true;
    v.model.clear();
    v.model.shrink_to_fit();
    ++pruned;
  }
  return pruned;
}

absl::StatusOr<StorageUse> MemoryStore::Usage() {
  absl::MutexLock lock(&mu_);
  StorageUse use;
  for (const auto& [key, v] : versions_) {
    if (v.pruned) continue;
    ++use.blobs;
    use.bytes += static_cast<int64_t>(v.model.size());
  }
  return use;
}

absl::Status MemoryStore::AppendAudit(AuditRow& row) {
  absl::MutexLock lock(&mu_);
  row.seq = static_cast<int64_t>(audit_.size()) + 1;
  audit_.push_back(row);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<AuditRow>> MemoryStore::Audit(const std::string& task, int limit) {
  absl::MutexLock lock(&mu_);
  std::vector<AuditRow> out;
  for (auto it = audit_.rbegin(); it != audit_.rend(); ++it) {
    if (limit > 0 && static_cast<int>(out.size()) >= limit) break;
    if (task.empty() || it->task == task) out.push_back(*it);
  }
  return out;
}

}  // namespace fedtiny::coordinator
