#include "coordinator/top_view.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace fedtiny::coordinator {

namespace {

std::string Metric(const v1::RoundInfo& r, const char* a, const char* b) {
  auto it = r.metrics().find(a);
  if (it == r.metrics().end()) it = r.metrics().find(b);
  return it == r.metrics().end() ? "-" : absl::StrFormat("%.4f", it->second);
}

std::string Rejected(const v1::RoundInfo& r) {
  std::map<std::string, int> sorted(r.rejected().begin(), r.rejected().end());
  std::vector<std::string> parts;
  for (const auto& [k, v] : sorted) parts.push_back(absl::StrCat(k, "=", v));
  return parts.empty() ? "-" : absl::StrJoin(parts, ",");
}

std::string Fit(std::string line, int width) {
  if (width > 0 && static_cast<int>(line.size()) > width) line.resize(width);
  return line;
}

}  // namespace

std::string TaskStateName(v1::TaskState s) {
  switch (s) {
    case v1::RUNNING: return "running";
    case v1::PAUSED: return "paused";
    case v1::DONE: return "done";
    case v1::STOPPED: return "stopped";
    default: return "?";
  }
}

std::string RoundStateName(v1::RoundState s) {
  return s == v1::OPEN ? "open" : s == v1::COMMITTED ? "committed" : s == v1::ABANDONED ? "abandoned" : "?";
}

std::string ProgressBar(int64_t done, int64_t goal, int width) {
  if (width <= 0) return "";
  const int64_t filled =
      goal <= 0 ? 0 : std::min<int64_t>(width, (std::max<int64_t>(done, 0) * width) / goal);
  return std::string(filled, '#') + std::string(width - filled, '.');
}

void TopView::Update(const v1::RoundInfo& round) {
  rounds_[{round.task(), round.round()}] = round;
  // Bounded: the oldest rounds of the task go first.
  size_t n = 0;
  for (const auto& [key, r] : rounds_) n += key.first == round.task();
  for (auto it = rounds_.begin(); n > kKeep && it != rounds_.end();) {
    if (it->first.first == round.task()) {
      it = rounds_.erase(it);
      --n;
    } else {
      ++it;
    }
  }
}

std::string TopView::Render(absl::Time now, int width, int height) const {
  std::vector<std::string> lines;
  lines.push_back(absl::StrCat("fedtiny rounds  ",
                               absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", now, absl::UTCTimeZone()),
                               "  (Ctrl-C quits)"));
  // Per task: its state and the newest round's progress.
  std::map<std::string, const v1::RoundInfo*> newest;
  for (const auto& [key, r] : rounds_) newest[key.first] = &r;
  for (const auto& [name, t] : tasks_) newest.emplace(name, nullptr);
  for (const auto& [name, r] : newest) {
    auto t = tasks_.find(name);
    const int goal = t == tasks_.end() ? 0 : t->second.config().clients_per_round();
    std::string line = absl::StrCat("task ", name);
    if (t != tasks_.end()) {
      absl::StrAppend(&line, "  ", TaskStateName(t->second.state()), "  committed ",
                      t->second.committed_rounds(), "/", t->second.config().rounds());
    }
    lines.push_back(line);
    if (r == nullptr) {
      lines.push_back("  no round yet");
      continue;
    }
    lines.push_back(absl::StrCat("  round ", r->round(), " ", RoundStateName(r->state()), "  [",
                                 ProgressBar(r->reported(), goal, 30), "] ", r->reported(), "/",
                                 goal > 0 ? absl::StrCat(goal) : "?", " reported, ", r->selected(),
                                 " selected, ", r->failed(), " failed, rejected ", Rejected(*r)));
  }
  lines.push_back("");
  const std::string header = absl::StrFormat("%-12s %6s %-9s %8s %8s %6s %-10s %-10s %s", "TASK",
                                             "ROUND", "STATE", "SELECTED", "REPORTED", "FAILED",
                                             "LOSS", "ACCURACY", "REJECTED");
  lines.push_back(header);
  std::vector<std::string> rows;
  for (auto it = rounds_.rbegin(); it != rounds_.rend(); ++it) {
    const v1::RoundInfo& r = it->second;
    rows.push_back(absl::StrFormat("%-12s %6d %-9s %8d %8d %6d %-10s %-10s %s", r.task(), r.round(),
                                   RoundStateName(r.state()), r.selected(), r.reported(), r.failed(),
                                   Metric(r, "train_loss", "loss"),
                                   Metric(r, "train_accuracy", "accuracy"), Rejected(r)));
  }
  // Newest rounds first, as many as fit below the header.
  for (const std::string& row : rows) {
    if (height > 0 && static_cast<int>(lines.size()) >= height) break;
    lines.push_back(row);
  }
  if (height > 0 && static_cast<int>(lines.size()) > height) lines.resize(height);
  std::string out;
  for (std::string& l : lines) absl::StrAppend(&out, Fit(std::move(l), width), "\n");
  return out;
}

}  // namespace fedtiny::coordinator
