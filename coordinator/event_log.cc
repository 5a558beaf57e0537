#include "coordinator/event_log.h"

#include <algorithm>

namespace fedtiny::coordinator {

void EventLog::Emit(v1::RoundInfo info) {
  absl::MutexLock lock(&mu_);
  RoundTotals& t = totals_[info.task()];
  if (info.state() == v1::OPEN) {
    // Progress events repeat the open round: it counts once, when first seen.
    if (info.round() > t.last_opened) {
      ++t.opened;
      t.last_opened = info.round();
    }
    t.open_round = info.round();
    t.open_reported = info.reported();
  } else if (info.state() == v1::COMMITTED || info.state() == v1::ABANDONED) {
    ++(info.state() == v1::COMMITTED ? t.committed : t.abandoned);
    t.reports += info.reported();
    for (const auto& [reason, n] : info.rejected()) t.rejections[reason] += n;
    if (t.open_round == info.round()) t.open_round = t.open_reported = 0;
  }
  events_.emplace_back(next_++, std::move(info));
  if (events_.size() > capacity_) {
    events_.erase(events_.begin(), events_.begin() + static_cast<std::ptrdiff_t>(capacity_ / 2));
  }
  cv_.SignalAll();
}

std::map<std::string, RoundTotals> EventLog::Totals() const {
  absl::MutexLock lock(&mu_);
  return totals_;
}

std::vector<v1::RoundInfo> EventLog::Wait(const std::string& task, int64_t* seq,
                                          absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  std::vector<v1::RoundInfo> out;
  while (true) {
    // Sequence numbers increase along events_: start after *seq.
    auto it = std::upper_bound(events_.begin(), events_.end(), *seq,
                               [](int64_t s, const auto& e) { return s < e.first; });
    for (; it != events_.end(); ++it) {
      *seq = it->first;
      if (task.empty() || it->second.task() == task) out.push_back(it->second);
    }
    if (!out.empty() || cv_.WaitWithDeadline(&mu_, deadline)) return out;
  }
}

}  // namespace fedtiny::coordinator
