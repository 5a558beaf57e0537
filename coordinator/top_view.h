// The refreshing, top-like screen of `flctl rounds --watch` on a terminal: a
// fixed header (task, state, the open round's progress against its goal), then
// the newest rounds, redrawn in place as round events arrive. Pure rendering:
// flctl feeds it events and writes what Render() returns.
#ifndef FEDTINY_COORDINATOR_TOP_VIEW_H_
#define FEDTINY_COORDINATOR_TOP_VIEW_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "proto/admin.pb.h"

namespace fedtiny::coordinator {

// Not thread-safe (one watcher thread feeds and renders it). Owns copies of
// what it was given.
class TopView {
 public:
  // The ANSI sequence that moves to the top-left corner and clears the screen.
  static constexpr const char* kClear = "\033[H\033[2J";

  void SetTask(const v1::TaskInfo& task) { tasks_[task.config().name()] = task; }
  // Keeps the newest state of each round (the newest `keep` rounds per task).
  void Update(const v1::RoundInfo& round);
  // The whole screen, at most `height` lines of at most `width` columns, ending
  // in a newline. `now` is shown in the header (UTC).
  std::string Render(absl::Time now, int width, int height) const;

 private:
  static constexpr size_t kKeep = 200;
  std::map<std::string, v1::TaskInfo> tasks_;
  // (task, round) -> newest event.
  std::map<std::pair<std::string, int64_t>, v1::RoundInfo> rounds_;
};

// The lower-case state names flctl's tables and this screen show ("?" for an
// unset state).
std::string TaskStateName(v1::TaskState s);
std::string RoundStateName(v1::RoundState s);

// A progress bar of `width` cells: '#' for done, '.' for the rest.
std::string ProgressBar(int64_t done, int64_t goal, int width);

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_TOP_VIEW_H_
