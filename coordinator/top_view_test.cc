#include "coordinator/top_view.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace fedtiny::coordinator {
namespace {

v1::RoundInfo Round(int64_t n, v1::RoundState state, int reported) {
  v1::RoundInfo r;
  r.set_task("fmnist");
  r.set_round(n);
  r.set_state(state);
  r.set_selected(13);
  r.set_reported(reported);
  (*r.mutable_metrics())["train_loss"] = 0.5;
  return r;
}

TEST(TopViewTest, ProgressBarFillsInProportion) {
  EXPECT_EQ(ProgressBar(5, 10, 10), "#####.....");
  EXPECT_EQ(ProgressBar(0, 10, 4), "....");
  EXPECT_EQ(ProgressBar(30, 10, 4), "####");  // Over the goal: full, never longer.
  EXPECT_EQ(ProgressBar(3, 0, 4), "....");    // Unknown goal.
}

TEST(TopViewTest, HeaderStaysOnTopHowEverManyRoundsArrive) {
  TopView view;
  v1::TaskInfo task;
  task.mutable_config()->set_name("fmnist");
  task.mutable_config()->set_clients_per_round(10);
  task.mutable_config()->set_rounds(500);
  task.set_state(v1::RUNNING);
  view.SetTask(task);
  for (int n = 1; n <= 300; ++n) view.Update(Round(n, v1::COMMITTED, 10));
  view.Update(Round(301, v1::OPEN, 4));
  const std::string screen = view.Render(absl::FromUnixSeconds(0), 100, 12);
  std::vector<std::string> lines = absl::StrSplit(screen, '\n');
  ASSERT_EQ(lines.back(), "");  // Ends in a newline.
  lines.pop_back();
  ASSERT_EQ(lines.size(), 12u);
  EXPECT_TRUE(absl::StartsWith(lines[0], "fedtiny rounds  1970-01-01T00:00:00Z"));
  EXPECT_EQ(lines[1], "task fmnist  running  committed 0/500");
  EXPECT_TRUE(absl::StrContains(lines[2], "round 301 open  [############..................] 4/10"))
      << lines[2];
  EXPECT_TRUE(absl::StartsWith(lines[4], "TASK"));
  // Newest first, and only the newest that fit.
  EXPECT_TRUE(absl::StrContains(lines[5], " 301 open")) << lines[5];
  EXPECT_TRUE(absl::StrContains(lines[6], " 300 committed")) << lines[6];
  EXPECT_TRUE(absl::StrContains(lines[6], "0.5000")) << lines[6];
  for (const std::string& l : lines) EXPECT_LE(l.size(), 100u);
}

TEST(TopViewTest, KeepsABoundedHistoryPerTask) {
  TopView view;
  for (int n = 1; n <= 1000; ++n) view.Update(Round(n, v1::COMMITTED, 1));
  const std::string screen = view.Render(absl::FromUnixSeconds(0), 0, 0);  // No limits.
  EXPECT_TRUE(absl::StrContains(screen, " 1000 committed"));
  EXPECT_TRUE(absl::StrContains(screen, "  801 committed"));
  EXPECT_FALSE(absl::StrContains(screen, "  800 committed"));
}

}  // namespace
}  // namespace fedtiny::coordinator
