#include "coordinator/event_log.h"

namespace fedtiny::coordinator {

void EventLog::Emit(v1::RoundInfo info) {
  absl::MutexLock lock(&mu_);
  events_.emplace_back(next_++, std::move(info));
  if (events_.size() > capacity_) {
    events_.erase(events_.begin(), events_.begin() + static_cast<std::ptrdiff_t>(capacity_ / 2));
  }
  cv_.SignalAll();
}

std::vector<v1::RoundInfo> EventLog::Wait(const std::string& task, int64_t* seq,
                                          absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  std::vector<v1::RoundInfo> out;
  while (true) {
    for (const auto& [n, info] : events_) {
      if (n <= *seq) continue;
      *seq = n;
      if (task.empty() || info.task() == task) out.push_back(info);
    }
    if (!out.empty() || cv_.WaitWithDeadline(&mu_, deadline)) return out;
  }
}

}  // namespace fedtiny::coordinator
