#include "coordinator/event_log.h"

#include "gtest/gtest.h"

namespace fedtiny::coordinator {
namespace {

v1::RoundInfo Event(const std::string& task, int64_t round, v1::RoundState state, int reported) {
  v1::RoundInfo r;
  r.set_task(task);
  r.set_round(round);
  r.set_state(state);
  r.set_reported(reported);
  return r;
}

TEST(EventLogTest, TotalsCountEachRoundOnceHoweverManyProgressEvents) {
  EventLog log(4);  // Trimmed long before the end: totals do not depend on it.
  for (int reported = 0; reported <= 5; ++reported) log.Emit(Event("a", 1, v1::OPEN, reported));
  v1::RoundInfo committed = Event("a", 1, v1::COMMITTED, 5);
  (*committed.mutable_rejected())["late"] = 2;
  log.Emit(committed);
  log.Emit(Event("a", 2, v1::OPEN, 0));
  log.Emit(Event("a", 2, v1::OPEN, 1));
  log.Emit(Event("b", 7, v1::OPEN, 0));
  log.Emit(Event("b", 7, v1::ABANDONED, 0));
  const std::map<std::string, RoundTotals> t = log.Totals();
  ASSERT_EQ(t.size(), 2u);
  const RoundTotals& a = t.at("a");
  EXPECT_EQ(a.opened, 2);
  EXPECT_EQ(a.committed, 1);
  EXPECT_EQ(a.abandoned, 0);
  EXPECT_EQ(a.reports, 5);
  EXPECT_EQ(a.rejections.at("late"), 2);
  EXPECT_EQ(a.open_round, 2);
  EXPECT_EQ(a.open_reported, 1);
  const RoundTotals& b = t.at("b");
  EXPECT_EQ(b.opened, 1);
  EXPECT_EQ(b.abandoned, 1);
  EXPECT_EQ(b.open_round, 0);  // Closed: none open.
}

TEST(EventLogTest, WaitReturnsOnlyWhatCameAfterTheSequenceNumber) {
  EventLog log;
  for (int i = 1; i <= 3; ++i) log.Emit(Event("a", i, v1::OPEN, 0));
  int64_t seq = 0;
  EXPECT_EQ(log.Wait("", &seq, absl::ZeroDuration()).size(), 3u);
  EXPECT_EQ(seq, 3);
  EXPECT_TRUE(log.Wait("", &seq, absl::ZeroDuration()).empty());
  log.Emit(Event("b", 1, v1::OPEN, 0));
  log.Emit(Event("a", 4, v1::OPEN, 0));
  std::vector<v1::RoundInfo> a = log.Wait("a", &seq, absl::ZeroDuration());
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].round(), 4);
  EXPECT_EQ(seq, 5);  // Past the other task's event too.
}

}  // namespace
}  // namespace fedtiny::coordinator
