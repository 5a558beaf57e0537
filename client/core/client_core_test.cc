// Eligibility, the example store, personalization and interruptible training jobs.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "client/core/eligibility.h"
#include "client/core/example_store.h"
#include "client/core/personalization.h"
#include "client/core/training_job.h"
#include "gtest/gtest.h"
#include "tools/base/atomic_file.h"
#include "tools/base/byte_io.h"
#include "client/platform/linux/status_bridge.h"
#include "client/platform/linux/linux_platform.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::client {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

std::string Tmp(const std::string& name) {
  const char* d = std::getenv("TEST_TMPDIR");
  return std::string(d != nullptr ? d : "/tmp") + "/" + name;
}

const DeviceStatus kPluggedIdle{true, true, true, 80, false};

TEST(EligibilityTest, DefaultPolicyNamesWhatIsMissing) {
  EligibilityPolicy p;
  EXPECT_TRUE(p.Allows(kPluggedIdle));
  DeviceStatus s = kPluggedIdle;
  s.charging = false;
  EXPECT_EQ(p.WhyNot(s), "not charging");
  s = kPluggedIdle;
  s.idle = false;
  EXPECT_EQ(p.WhyNot(s), "in use");
  s = kPluggedIdle;
  s.unmetered_network = false;
  EXPECT_EQ(p.WhyNot(s), "on a metered network");
  s = kPluggedIdle;
  s.battery_percent = 49;
  EXPECT_EQ(p.WhyNot(s), "battery below threshold");
  s = kPluggedIdle;
  s.thermal_throttled = true;
  EXPECT_EQ(p.WhyNot(s), "thermally throttled");
  EligibilityPolicy lax{false, false, false, 0, false};
  EXPECT_TRUE(lax.Allows(DeviceStatus{}));
}

ExampleStoreOptions Opts(int64_t max_examples, ExampleStoreOptions::Eviction e) {
  ExampleStoreOptions o;
  o.input_dim = 3;
  o.max_examples = max_examples;
  o.eviction = e;
  o.seed = 5;
  return o;
}

// A store file with a valid trailer but the given header and records.
std::string StoreFile(int64_t dim, int64_t seen, int64_t n, const std::string& records) {
  std::string out("FTES", 4);
  PutValue(out, uint32_t{1});
  PutValue(out, dim);
  PutValue(out, seen);
  PutValue(out, n);
  return WithSha256Trailer(out + records);
}

TEST(ExampleStoreTest, LoadRefusesHostileFilesQuickly) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/hostile.store";
  const ExampleStoreOptions o = Opts(4, ExampleStoreOptions::Eviction::kOldestFirst);
  // 2^60 records of 16 bytes "fit" in 0 bytes once the product wraps: it used
  // to loop 2^60 times.
  ASSERT_THAT(WriteFileAtomically(path, StoreFile(3, int64_t{1} << 60, int64_t{1} << 60, "")), IsOk());
  EXPECT_THAT(ExampleStore::Load(LinuxPlatform(), path, o), StatusIs(absl::StatusCode::kDataLoss));
  std::string record;
  PutValue(record, int32_t{1});
  for (float v : {1.f, std::nanf(""), 2.f}) PutValue(record, v);
  ASSERT_THAT(WriteFileAtomically(path, StoreFile(3, 1, 1, record)), IsOk());
  EXPECT_THAT(ExampleStore::Load(LinuxPlatform(), path, o), StatusIs(absl::StatusCode::kDataLoss));  // NaN.
  std::string negative;
  PutValue(negative, int32_t{-7});
  for (float v : {1.f, 2.f, 3.f}) PutValue(negative, v);
  ASSERT_THAT(WriteFileAtomically(path, StoreFile(3, 1, 1, negative)), IsOk());
  EXPECT_THAT(ExampleStore::Load(LinuxPlatform(), path, o), StatusIs(absl::StatusCode::kDataLoss));  // Label.
  std::string good;
  PutValue(good, int32_t{2});
  for (float v : {1.f, 2.f, 3.f}) PutValue(good, v);
  ASSERT_THAT(WriteFileAtomically(path, StoreFile(3, 0, 1, good)), IsOk());
  EXPECT_THAT(ExampleStore::Load(LinuxPlatform(), path, o), StatusIs(absl::StatusCode::kDataLoss));  // seen < size.
  ASSERT_THAT(WriteFileAtomically(path, StoreFile(3, 1, 1, good)), IsOk());
  StatusOr<ExampleStore> ok = ExampleStore::Load(LinuxPlatform(), path, o);
  ASSERT_THAT(ok, IsOk());
  EXPECT_EQ(ok->size(), 1);
}

TEST(ExampleStoreTest, BoundedOldestFirstAndByBytes) {
  ExampleStore s(Opts(4, ExampleStoreOptions::Eviction::kOldestFirst));
  for (int i = 0; i < 10; ++i) ASSERT_THAT(s.Add({{1.f * i, 0, 0}}, i), IsOk());
  EXPECT_EQ(s.size(), 4);
  EXPECT_EQ(s.Labels(), (std::vector<int32_t>{6, 7, 8, 9}));
  ExampleStoreOptions tiny = Opts(100, ExampleStoreOptions::Eviction::kOldestFirst);
  tiny.max_bytes = 30;  // Two examples of 12 bytes.
  EXPECT_EQ(ExampleStore(tiny).capacity(), 2);
  EXPECT_THAT(s.Add({{1.f, 2.f}}, 0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(s.Add({{NAN, 0, 0}}, 0), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ExampleStoreTest, ReservoirKeepsAUniformSample) {
  // Each of 1000 examples should survive with probability 100/1000.
  std::vector<int> kept(1000, 0);
  for (int trial = 0; trial < 200; ++trial) {
    ExampleStoreOptions o = Opts(100, ExampleStoreOptions::Eviction::kReservoir);
    o.seed = trial;
    ExampleStore s(o);
    for (int i = 0; i < 1000; ++i) ASSERT_THAT(s.Add({{0, 0, 0}}, i), IsOk());
    for (int32_t y : s.Labels()) ++kept[y];
  }
  // Early and late examples are kept equally often (20 expected each).
  double early = 0, late = 0;
  for (int i = 0; i < 100; ++i) early += kept[i], late += kept[900 + i];
  EXPECT_NEAR(early / 100, 20, 3);
  EXPECT_NEAR(late / 100, 20, 3);
}

TEST(ExampleStoreTest, PersistsAndDetectsCorruption) {
  ExampleStore s(Opts(10, ExampleStoreOptions::Eviction::kOldestFirst));
  for (int i = 0; i < 7; ++i) ASSERT_THAT(s.Add({{0.5f * i, 1, -1}}, i % 3), IsOk());
  const std::string path = Tmp("store.bin");
  ASSERT_THAT(s.Save(LinuxPlatform(), path), IsOk());
  StatusOr<ExampleStore> back =
      ExampleStore::Load(LinuxPlatform(), path, Opts(10, ExampleStoreOptions::Eviction::kOldestFirst));
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->Labels(), s.Labels());
  EXPECT_EQ(back->Features(), s.Features());
  EXPECT_EQ(back->seen(), 7);
  std::string bytes = *ReadFile(path);
  ASSERT_THAT(WriteFileAtomically(path, bytes.substr(0, bytes.size() - 5)), IsOk());
  EXPECT_THAT(ExampleStore::Load(LinuxPlatform(), path, Opts(10, ExampleStoreOptions::Eviction::kOldestFirst)),
              StatusIs(absl::StatusCode::kDataLoss));
  bytes[20] ^= 0x40;
  ASSERT_THAT(WriteFileAtomically(path, bytes), IsOk());
  EXPECT_THAT(ExampleStore::Load(LinuxPlatform(), path, Opts(10, ExampleStoreOptions::Eviction::kOldestFirst)),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ExampleStore::Load(LinuxPlatform(), Tmp("absent.bin"), Opts(10, {})),
              StatusIs(absl::StatusCode::kNotFound));
}

struct Data {
  RowMatrixXf x;
  std::vector<int32_t> y;
};

Data Separable(int n, int d, int classes, uint32_t seed, bool permuted = false) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  Data data{RowMatrixXf(n, d), std::vector<int32_t>(n)};
  for (int i = 0; i < n; ++i) {
    const int c = rng() % classes;
    data.y[i] = permuted ? (classes - 1 - c) : c;  // The same inputs, other labels.
    for (int j = 0; j < d; ++j) data.x(i, j) = g(rng) + 3.f * (j % classes == c);
  }
  return data;
}

TEST(PersonalizationTest, PicksTheHeadFittingTheLocalLabels) {
  Data a = Separable(300, 8, 4, 1), b = Separable(300, 8, 4, 2, /*permuted=*/true);
  const TrainPlan plan{5, 10, 0.1f, 0, 0, 3};
  Head base = MakeHead({8, 8, 4}, 9);
  Head head_a = *FineTunePersonalHead(base, a.x, a.y, plan);
  Head head_b = *FineTunePersonalHead(base, b.x, b.y, plan);
  Data local_b = Separable(50, 8, 4, 3, /*permuted=*/true);
  StatusOr<ClusterChoice> c = PickCluster({head_a, head_b}, local_b.x, local_b.y);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->cluster, 1);
  EXPECT_LT(c->losses[1], c->losses[0]);
  EXPECT_GT(Evaluate(head_b, local_b.x, local_b.y)->accuracy, 0.9);
  EXPECT_THAT(PickCluster({}, a.x, a.y), StatusIs(absl::StatusCode::kInvalidArgument));
}

// A device that is unplugged after `reads_before_unplug` checks.
class UnplugsAfter final : public DeviceState {
 public:
  explicit UnplugsAfter(int n) : left_(n) {}
  DeviceStatus Read() const override {
    DeviceStatus s = kPluggedIdle;
    s.charging = left_-- > 0;
    return s;
  }

 private:
  mutable int left_;
};

TEST(TrainingJobTest, UnplugMidEpochCheckpointsAndResumesBitExactly) {
  Data d = Separable(200, 8, 4, 7);
  const TrainPlan plan{2, 10, 0.05f, 0.9f, 0.f, 11};
  const Head initial = MakeHead({8, 6, 4}, 2);
  SettableDeviceState always(kPluggedIdle);
  TrainingJob straight(LinuxPlatform(), Tmp("straight.ckpt"), &always);
  StatusOr<TrainOutcome> full = straight.Run("r1", initial, plan, d.x, d.y);
  ASSERT_THAT(full, IsOk());
  ASSERT_TRUE(full->completed);
  EXPECT_FALSE(straight.HasCheckpoint());

  UnplugsAfter unplug(13);  // Mid first epoch (20 batches per epoch).
  const std::string path = Tmp("job.ckpt");
  {
    TrainingJob job(LinuxPlatform(), path, &unplug);
    StatusOr<TrainOutcome> first = job.Run("r1", initial, plan, d.x, d.y);
    ASSERT_THAT(first, IsOk());
    EXPECT_FALSE(first->completed);
    EXPECT_EQ(first->why_stopped, "not charging");
    EXPECT_EQ(first->result.examples_seen, 130);
    EXPECT_TRUE(job.HasCheckpoint());
  }
  // Later, plugged in again, in a new process (a new job object).
  TrainingJob resumed(LinuxPlatform(), path, &always);
  StatusOr<TrainOutcome> second = resumed.Run("r1", initial, plan, d.x, d.y);
  ASSERT_THAT(second, IsOk());
  ASSERT_TRUE(second->completed);
  EXPECT_EQ(second->result.examples_seen, 400);
  EXPECT_EQ(second->head.Flatten(), full->head.Flatten());
  EXPECT_FALSE(resumed.HasCheckpoint());
}

TEST(TrainingJobTest, OtherRoundCorruptCheckpointAndAbandon) {
  Data d = Separable(60, 8, 4, 9);
  const TrainPlan plan{1, 10, 0.05f};
  const Head initial = MakeHead({8, 4}, 3);
  const std::string path = Tmp("other.ckpt");
  UnplugsAfter unplug(2);
  ASSERT_THAT(TrainingJob(LinuxPlatform(), path, &unplug).Run("r1", initial, plan, d.x, d.y), IsOk());
  // A checkpoint of round r1 does not leak into round r2.
  SettableDeviceState always(kPluggedIdle);
  StatusOr<TrainOutcome> r2 = TrainingJob(LinuxPlatform(), path, &always).Run("r2", initial, plan, d.x, d.y);
  ASSERT_THAT(r2, IsOk());
  EXPECT_EQ(r2->result.examples_seen, 60);
  // A corrupt checkpoint is reported, not used; Abandon() clears it.
  UnplugsAfter again(2);
  ASSERT_THAT(TrainingJob(LinuxPlatform(), path, &again).Run("r3", initial, plan, d.x, d.y), IsOk());
  std::string bytes = *ReadFile(path);
  bytes[bytes.size() / 2] ^= 1;
  ASSERT_THAT(WriteFileAtomically(path, bytes), IsOk());
  TrainingJob job(LinuxPlatform(), path, &always);
  EXPECT_THAT(job.Run("r3", initial, plan, d.x, d.y), StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_THAT(job.Abandon(), IsOk());
  EXPECT_THAT(job.Run("r3", initial, plan, d.x, d.y), IsOk());
}

}  // namespace
}  // namespace fedtiny::client
