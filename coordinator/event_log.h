// Round events (opened, progress, committed, abandoned) for watchers: a bounded
// in-memory log with sequence numbers, behind its own lock, so that a watcher
// never holds a task's lock while it waits.
#ifndef FEDTINY_COORDINATOR_EVENT_LOG_H_
#define FEDTINY_COORDINATOR_EVENT_LOG_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/admin.pb.h"

namespace fedtiny::coordinator {

// What a task's round events added up to since the process started (for
// metrics read at scrape time: no reader has to see every event).
struct RoundTotals {
  int64_t opened = 0, committed = 0, abandoned = 0;
  int64_t reports = 0;                         // In closed rounds.
  std::map<std::string, int64_t> rejections;   // In closed rounds, by reason.
  int64_t open_round = 0;                      // 0: none open.
  int64_t open_reported = 0;
  int64_t last_opened = 0;                     // The newest round seen open.
};

// Thread-safe. Keeps the newest `capacity` events (at least half of them after a trim).
class EventLog {
 public:
  explicit EventLog(size_t capacity = 2000) : capacity_(capacity) {}

  void Emit(v1::RoundInfo info);

  // Task -> totals of its events so far.
  std::map<std::string, RoundTotals> Totals() const;

  // Events after sequence number `*seq` for `task` ("" = all); blocks up to
  // `timeout` for the first one. Updates `*seq` past every event it looked at.
  std::vector<v1::RoundInfo> Wait(const std::string& task, int64_t* seq, absl::Duration timeout);

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::vector<std::pair<int64_t, v1::RoundInfo>> events_ ABSL_GUARDED_BY(mu_);
  int64_t next_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, RoundTotals> totals_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_EVENT_LOG_H_
