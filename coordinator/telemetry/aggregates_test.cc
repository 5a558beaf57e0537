#include "coordinator/telemetry/aggregates.h"

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "tools/base/atomic_file.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::coordinator::telemetry {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

std::string TempPath(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

CellKey Key(int64_t window = 86400) {
  return CellKey{"t", 3, "m4", "int8", window};
}

TEST(AggregatesTest, CountsSurviveAReopen) {
  const std::string path = TempPath("reopen.pb");
  {
    auto a = Aggregates::Open({path});
    ASSERT_THAT(a.status(), IsOk());
    ASSERT_THAT((*a)->Add(Key(), {{"lat", 1, 4}, {"cls", 0, 2}}, 0), IsOk());
    ASSERT_THAT((*a)->Add(Key(), {{"lat", 1, 4}}, 0), IsOk());
    ASSERT_THAT((*a)->Add(Key(), {{"lat", 3, 4}}, 0), IsOk());
  }
  auto b = Aggregates::Open({path});
  ASSERT_THAT(b.status(), IsOk());
  const auto cells = (*b)->Snapshot("t");
  ASSERT_EQ(cells.size(), 1u);
  const CellCounts& c = cells.begin()->second;
  EXPECT_EQ(c.reports, 3);
  EXPECT_EQ(c.probes.at("lat"), (std::vector<int64_t>{0, 2, 0, 1}));
  EXPECT_EQ(c.probes.at("cls"), (std::vector<int64_t>{1, 0}));
  EXPECT_TRUE((*b)->Snapshot("other").empty());
}

TEST(AggregatesTest, ACorruptFileIsDataLossNotAnEmptyState) {
  const std::string path = TempPath("corrupt.pb");
  {
    auto a = Aggregates::Open({path});
    ASSERT_THAT((*a)->Add(Key(), {{"lat", 1, 4}}, 0), IsOk());
  }
  absl::StatusOr<std::string> bytes = ReadFile(path);
  ASSERT_THAT(bytes.status(), IsOk());
  std::string flipped = *bytes;
  flipped.back() ^= 1;
  ASSERT_THAT(WriteFileAtomically(path, flipped), IsOk());
  EXPECT_THAT(Aggregates::Open({path}).status(),
              StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_THAT(WriteFileAtomically(path, bytes->substr(0, bytes->size() - 3)),
              IsOk());
  EXPECT_THAT(Aggregates::Open({path}).status(),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(AggregatesTest, AFailedWriteCountsNothing) {
  // A path in a missing directory: every write fails.
  auto a = Aggregates::Open({TempPath("missing/dir/state.pb")});
  ASSERT_THAT(a.status(), IsOk());
  EXPECT_THAT((*a)->Add(Key(), {{"lat", 1, 4}}, 0),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_TRUE((*a)->Snapshot("").empty());
}

TEST(AggregatesTest, CapsReportsPerWindowAndDropsOldWindows) {
  Aggregates::Options o;
  o.max_reports_per_window = 2;
  auto a = Aggregates::Open(o);
  ASSERT_THAT((*a)->Add(Key(), {{"lat", 0, 4}}, 0), IsOk());
  CellKey other_class = Key();
  other_class.device_class = "m7";
  ASSERT_THAT((*a)->Add(other_class, {{"lat", 0, 4}}, 0), IsOk());
  EXPECT_THAT((*a)->Add(Key(), {{"lat", 0, 4}}, 0),
              StatusIs(absl::StatusCode::kResourceExhausted));
  // The next window has room, and dropping windows before it leaves one cell.
  ASSERT_THAT((*a)->Add(Key(2 * 86400), {{"lat", 0, 4}}, 2 * 86400), IsOk());
  EXPECT_EQ((*a)->Snapshot("t").size(), 1u);
}

TEST(AggregatesTest, RefusesABinCountOtherThanTheStoredOne) {
  auto a = Aggregates::Open({});
  ASSERT_THAT((*a)->Add(Key(), {{"lat", 0, 4}}, 0), IsOk());
  EXPECT_THAT((*a)->Add(Key(), {{"lat", 0, 5}}, 0),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ((*a)->Snapshot("t").begin()->second.reports, 1);
}

TEST(AggregatesTest, DropTaskRemovesOnlyThatTaskDurably) {
  const std::string path = TempPath("drop.pb");
  {
    auto a = Aggregates::Open({path});
    ASSERT_THAT((*a)->Add(Key(), {{"lat", 0, 4}}, 0), IsOk());
    CellKey other = Key();
    other.task = "u";
    ASSERT_THAT((*a)->Add(other, {{"lat", 0, 4}}, 0), IsOk());
    ASSERT_THAT((*a)->DropTask("t"), IsOk());
  }
  auto b = Aggregates::Open({path});
  ASSERT_THAT(b.status(), IsOk());
  EXPECT_TRUE((*b)->Snapshot("t").empty());
  EXPECT_EQ((*b)->Snapshot("u").size(), 1u);
}

}  // namespace
}  // namespace fedtiny::coordinator::telemetry
