// The fixed arena: the trainer lives in one block the app provides, Train()
// allocates nothing (checked by interposing the C allocator itself, not only
// operator new), running out is a status, and the working set it reports
// (weights, buffers, state, checkpoint, stack) holds the 128-64-10 head at
// batch 10 in 64 KiB. tools/cross's core_selftest checks the same on Cortex-M.
#include "client/core/arena.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>


#include "client/core/head_trainer.h"
#include "client/core/predict.h"
#include "client/platform/linux/linux_platform.h"
#include "client/platform/linux/status_bridge.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "client/core/testing/counting_malloc.h"
#include "tools/cross/stack_meter.h"

namespace fedtiny::client {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

using ::fedtiny::testing::AllocationCounter;

// Linux's crypto, whose own allocations are not counted: OpenSSL's EVP
// allocates a digest context per hash. That is the platform's memory, which
// the app chooses (mbedTLS on Cortex-M hashes in a context on the stack); the
// test counts the core's.
class UncountedCrypto : public Crypto {
 public:
  bool Sha256(std::string_view data, uint8_t (&digest)[kSha256Bytes]) const override {
    ::fedtiny::testing::UncountedScope uncounted;
    return LinuxCrypto().Sha256(data, digest);
  }
  bool ConstantTimeEquals(std::string_view a, std::string_view b) const override {
    return LinuxCrypto().ConstantTimeEquals(a, b);
  }
};

struct Data {
  std::vector<float> x;  // n x d, row-major.
  std::vector<int32_t> y;
};

Data RandomData(int64_t n, int64_t d, int classes, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  Data data{std::vector<float>(n * d), std::vector<int32_t>(n)};
  for (int64_t i = 0; i < n; ++i) {
    data.y[i] = static_cast<int32_t>(rng() % classes);
    for (int64_t j = 0; j < d; ++j) data.x[i * d + j] = g(rng) + 2.f * (j % classes == data.y[i]);
  }
  return data;
}

RowMatrixXf AsMatrix(const Data& d, int64_t cols) {
  return Eigen::Map<const RowMatrixXf>(d.x.data(), static_cast<int64_t>(d.y.size()), cols);
}

const HeadLayerShape kBar[] = {{128, 64, true}, {64, 10, false}};

TEST(ArenaTest, CarvesAlignedAndRefusesWhenFull) {
  alignas(16) unsigned char block[256];
  Arena arena(block + 1, sizeof(block) - 1);  // A misaligned block.
  float* a = arena.Allocate<float>(10);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % Arena::kMinAlign, 0u);
  EXPECT_GE(reinterpret_cast<unsigned char*>(a), block + 1);
  const size_t used = arena.used();
  EXPECT_EQ(arena.Allocate<double>(100), nullptr);  // 800 bytes do not fit.
  EXPECT_TRUE(arena.failed());
  EXPECT_EQ(arena.used(), used);  // A refusal takes nothing.
  int64_t* b = arena.Allocate<int64_t>(8);
  ASSERT_NE(b, nullptr);
  EXPECT_GE(reinterpret_cast<unsigned char*>(b), reinterpret_cast<unsigned char*>(a + 10));
  EXPECT_LE(reinterpret_cast<unsigned char*>(b + 8), block + sizeof(block));

  Arena measuring = Arena::Measuring();
  EXPECT_EQ(measuring.Allocate<float>(10), nullptr);
  measuring.Allocate<int64_t>(8);
  EXPECT_GE(measuring.used(), used + 64);  // An upper bound of the real carve.
}

TEST(ArenaTest, ArenaBytesIsEnoughAtEveryAlignmentAndTight) {
  const TrainPlan plan{1, 10, 0.05f, 0.9f};
  const int64_t need = HeadTrainer::ArenaBytes(kBar, plan, 200);
  ASSERT_GT(need, 0);
  std::vector<unsigned char> block(need + 16);
  size_t smallest_used = SIZE_MAX;
  for (int offset = 0; offset < 16; ++offset) {
    Arena arena(block.data() + offset, need);
    ASSERT_THAT(HeadTrainer::CreateInArena(kBar, plan, 200, arena), IsOk()) << offset;
    smallest_used = std::min(smallest_used, arena.used());
  }
  // Less than the smallest carve fails, with the sizes in the message.
  Arena small(block.data(), smallest_used - 1);
  auto r = HeadTrainer::CreateInArena(kBar, plan, 200, small);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_NE(r.status().message().find(std::to_string(need)), std::string::npos)
      << r.status().message();
  EXPECT_EQ(HeadTrainer::ArenaBytes({}, plan, 1), -1);
  Arena any(block.data(), block.size());
  const HeadLayerShape bad[] = {{128, 64, true}, {32, 10, false}};
  EXPECT_THAT(HeadTrainer::CreateInArena(bad, plan, 1, any),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// The arena trainer on a flat head is the heap trainer on an Eigen head, bit
// for bit, with momentum and FedProx, straight and interrupted + resumed.
TEST(ArenaTest, FlatArenaTrainingEqualsHeapTraining) {
  const TrainPlan plan{2, 10, 0.05f, 0.9f, 0.1f, 7};
  Head heap_head = MakeHead({128, 64, 10}, 3);
  const Data data = RandomData(95, 128, 10, 4);
  auto heap = *HeadTrainer::Create(heap_head, plan);
  TrainState heap_state;
  ASSERT_THAT(heap->Train(heap_head, AsMatrix(data, 128), data.y, [] { return true; }, heap_state),
              IsOk());

  std::vector<unsigned char> block(HeadTrainer::ArenaBytes(kBar, plan, 95));
  Arena arena(block.data(), block.size());
  HeadTrainer* trainer = *HeadTrainer::CreateInArena(kBar, plan, 95, arena);
  std::vector<float> flat = MakeHead({128, 64, 10}, 3).Flatten();
  TrainState state;
  int batches = 0;
  auto first = trainer->Train(flat, data.x.data(), 95, data.y, [&] { return ++batches <= 7; }, state);
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->reason, StopReason::kIneligible);
  // Through a checkpoint, as after a reboot.
  const Crypto& crypto = LinuxCrypto();
  TrainState resumed = *TrainState::Parse(state.Serialize(crypto), crypto);
  auto rest = trainer->Train(flat, data.x.data(), 95, data.y, [] { return true; }, resumed);
  ASSERT_THAT(rest, IsOk());
  EXPECT_EQ(rest->reason, StopReason::kCompleted);
  const std::vector<float> expected = heap_head.Flatten();
  ASSERT_EQ(flat.size(), expected.size());
  EXPECT_EQ(std::memcmp(flat.data(), expected.data(), flat.size() * sizeof(float)), 0);
  EXPECT_EQ(rest->examples_seen, 190);
  EXPECT_EQ(rest->correct, heap_state.correct);
}

TEST(ArenaTest, NothingIsAllocatedAfterInitialization) {
  // Initialization: the block, the head, the data, the state's buffers and the
  // checkpoint string.
  const TrainPlan plan{2, 10, 0.05f, 0.9f, 0.1f, 7};
  std::vector<unsigned char> block(HeadTrainer::ArenaBytes(kBar, plan, 200));
  Arena arena(block.data(), block.size());
  HeadTrainer* trainer = *HeadTrainer::CreateInArena(kBar, plan, 200, arena);
  std::vector<float> flat = MakeHead({128, 64, 10}, 5).Flatten();
  const Data data = RandomData(200, 128, 10, 6);
  TrainState state;
  trainer->ReserveState(state);
  std::string checkpoint;
  checkpoint.reserve(static_cast<size_t>(trainer->memory().checkpoint));
  const UncountedCrypto crypto;

  int64_t allocations = 0;
  int stops = 0;
  {
    AllocationCounter counter;
    // Interrupted twice (checkpointed each time), then run to the end.
    for (;;) {
      int batches = 0;
      StatusOr<TrainResult> r = trainer->Train(flat, data.x.data(), 200, data.y,
                                               [&] { return ++batches <= 15; }, state);
      state.SerializeTo(checkpoint, crypto);
      if (!r.ok() || r->reason == StopReason::kCompleted) break;
      ++stops;
    }
    allocations = counter.count();
  }
  EXPECT_EQ(stops, 2);
  EXPECT_EQ(allocations, 0);
  EXPECT_EQ(state.examples_seen, 400);
  EXPECT_EQ(checkpoint.size(), state.SerializedSize());
  EXPECT_EQ(static_cast<int64_t>(checkpoint.size()), trainer->memory().checkpoint);
  EXPECT_TRUE(checkpoint == state.Serialize(crypto));  // (Not printed: binary.)

  // The counter is not vacuous: the heap trainer's Create allocates, and so
  // does a checkpoint into a string without room.
  {
    AllocationCounter counter;
    auto heap = HeadTrainer::Create(MakeHead({128, 64, 10}, 5), plan);
    std::string no_room;
    state.SerializeTo(no_room, crypto);
    EXPECT_GE(counter.count(), 2);
  }
}

TEST(ArenaTest, MoreExamplesThanSizedForIsAnErrorNotACrash) {
  const TrainPlan plan{1, 10, 0.05f};
  std::vector<unsigned char> block(HeadTrainer::ArenaBytes(kBar, plan, 50));
  Arena arena(block.data(), block.size());
  HeadTrainer* trainer = *HeadTrainer::CreateInArena(kBar, plan, 50, arena);
  std::vector<float> flat = MakeHead({128, 64, 10}, 5).Flatten();
  const std::vector<float> before = flat;
  const Data data = RandomData(51, 128, 10, 6);
  TrainState state;
  EXPECT_THAT(trainer->Train(flat, data.x.data(), 51, data.y, [] { return true; }, state),
              StatusIs(absl::StatusCode::kResourceExhausted));
  std::vector<float> short_head(flat.size() - 1);
  EXPECT_THAT(trainer->Train(short_head, data.x.data(), 50,
                             Span<const int32_t>(data.y.data(), 50), [] { return true; }, state),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(flat, before);
  EXPECT_THAT(trainer->Train(flat, data.x.data(), 50, Span<const int32_t>(data.y.data(), 50),
                             [] { return true; }, state),
              IsOk());
}

// The bar: a 128-64-10 head at batch 10 trains in <= 64 KiB of arena
// plus stack, and the stack figure the working set reports covers Train()'s
// measured stack.
TEST(ArenaTest, TheBarHeadFitsIn64KiBWithItsMeasuredStack) {
  const TrainPlan plan{1, 10, 0.05f};
  const int64_t examples = 200;
  std::vector<unsigned char> block(HeadTrainer::ArenaBytes(kBar, plan, examples));
  Arena arena(block.data(), block.size());
  HeadTrainer* trainer = *HeadTrainer::CreateInArena(kBar, plan, examples, arena);
  std::vector<float> flat = MakeHead({128, 64, 10}, 5).Flatten();
  const Data data = RandomData(examples, 128, 10, 6);
  TrainState state;
  bool ok = false;
  const size_t stack = ::fedtiny::testing::StackUsedBy(64 * 1024, [&] {
    ok = trainer->Train(flat, data.x.data(), examples, data.y, [] { return true; }, state).ok();
  });
  ASSERT_TRUE(ok);
  const TrainerMemory m = trainer->memory();
  std::printf("128-64-10 batch 10, %ld examples: weights %ld + buffers %ld + state %ld + "
              "checkpoint %ld + stack bound %ld = %ld bytes; measured stack %zu\n",
              static_cast<long>(examples), static_cast<long>(m.weights),
              static_cast<long>(m.buffers), static_cast<long>(m.state),
              static_cast<long>(m.checkpoint), static_cast<long>(m.stack),
              static_cast<long>(m.total()), stack);
  EXPECT_GT(stack, 256u);  // The paint saw Train() run.
  EXPECT_LE(static_cast<int64_t>(stack), kTrainStackBytes);
  EXPECT_LE(m.total(), 64 * 1024);
  EXPECT_LE(static_cast<int64_t>(arena.used()), m.buffers);
  EXPECT_EQ(m.weights, 8906 * 4);
}

// Inference under the same rules: a 784-128-64-10 model predicts with no
// allocation after the Predictor is made.
TEST(ArenaTest, PredictAllocatesNothing) {
  Head all = MakeHead({784, 128, 64, 10}, 2);
  Head head;
  head.layers.assign(all.layers.begin() + 1, all.layers.end());
  const Body body({all.layers[0]});
  std::vector<unsigned char> block(Predictor::ArenaBytes(body, head, 8));
  Arena arena(block.data(), block.size());
  Predictor* p = *Predictor::Create(body, head, 8, arena);
  const Data data = RandomData(8, 784, 10, 9);
  std::vector<float> probs(80);
  std::vector<int32_t> classes(8);
  int64_t allocations = -1;
  bool ok = true;
  {
    AllocationCounter counter;
    for (int i = 0; i < 3; ++i) ok = ok && p->Predict(data.x.data(), 8, probs, classes).ok();
    allocations = counter.count();
  }
  EXPECT_TRUE(ok);
  EXPECT_EQ(allocations, 0);
}

}  // namespace
}  // namespace fedtiny::client
