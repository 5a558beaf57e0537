#include "client/core/head_trainer.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <random>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tools/base/byte_io.h"
#include "client/platform/linux/status_bridge.h"
#include "client/platform/linux/linux_platform.h"
#include "tools/base/status_matchers.h"

// Counts heap allocations while g_counting is set (this test binary only).
static std::atomic<bool> g_counting{false};
static std::atomic<int64_t> g_allocations{0};
void* operator new(size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace fedtiny::client {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

struct Data {
  RowMatrixXf x;
  std::vector<int32_t> y;
};

Data RandomData(int64_t n, int64_t d, int classes, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  Data data{RowMatrixXf(n, d), std::vector<int32_t>(n)};
  for (int64_t i = 0; i < n; ++i) {
    data.y[i] = static_cast<int32_t>(rng() % classes);
    for (int64_t j = 0; j < d; ++j) data.x(i, j) = g(rng) + 2.f * (j % classes == data.y[i]);
  }
  return data;
}

const auto kAlways = [] { return true; };

TEST(HeadTrainerTest, OneFullBatchStepIsTheFiniteDifferenceGradient) {
  Head head = MakeHead({5, 4, 3}, 11);
  for (DenseLayer& l : head.layers) l.b.setConstant(0.1f);  // Keep ReLUs active.
  Data data = RandomData(6, 5, 3, 2);
  const float lr = 1e-3f;
  TrainPlan plan{1, 6, lr};
  auto trainer = *HeadTrainer::Create(head, plan);
  Head stepped = head;
  TrainState state;
  ASSERT_THAT(trainer->Train(stepped, data.x, data.y, kAlways, state), IsOk());
  const std::vector<float> before = head.Flatten(), after = stepped.Flatten();
  const double h = 1e-3;
  for (size_t k = 0; k < before.size(); ++k) {
    Head plus = head, minus = head;
    std::vector<float> p = before, m = before;
    p[k] += h;
    m[k] -= h;
    ASSERT_THAT(plus.Unflatten(p), IsOk());
    ASSERT_THAT(minus.Unflatten(m), IsOk());
    const double fd =
        (Evaluate(plus, data.x, data.y)->loss - Evaluate(minus, data.x, data.y)->loss) / (2 * h);
    const double grad = (before[k] - after[k]) / lr;
    EXPECT_NEAR(grad, fd, 2e-3 + 2e-2 * std::fabs(fd)) << "parameter " << k;
  }
}

// An independent per-example, per-coefficient implementation in double.
struct NaiveHead {
  std::vector<std::vector<std::vector<double>>> w;  // [layer][out][in]
  std::vector<std::vector<double>> b;
  explicit NaiveHead(const Head& h) {
    for (const DenseLayer& l : h.layers) {
      w.emplace_back(l.out(), std::vector<double>(l.in()));
      b.emplace_back(l.out());
      for (int o = 0; o < l.out(); ++o) {
        b.back()[o] = l.b[o];
        for (int i = 0; i < l.in(); ++i) w.back()[o][i] = l.w(o, i);
      }
    }
  }
};

void NaiveEpoch(NaiveHead& h, const Data& d, const TrainPlan& p, NaiveHead& vel,
                const NaiveHead& anchor) {
  std::vector<int64_t> order(d.x.rows());
  EpochOrder(p.seed, 0, order);
  const int L = h.w.size();
  for (size_t start = 0; start < order.size(); start += p.batch_size) {
    const size_t end = std::min(order.size(), start + p.batch_size);
    const double bsz = end - start;
    NaiveHead grad = h;
    for (int l = 0; l < L; ++l) {
      for (auto& row : grad.w[l]) std::fill(row.begin(), row.end(), 0.0);
      std::fill(grad.b[l].begin(), grad.b[l].end(), 0.0);
    }
    for (size_t s = start; s < end; ++s) {
      std::vector<std::vector<double>> a(L + 1);
      for (int j = 0; j < d.x.cols(); ++j) a[0].push_back(d.x(order[s], j));
      for (int l = 0; l < L; ++l) {
        for (size_t o = 0; o < h.w[l].size(); ++o) {
          double z = h.b[l][o];
          for (size_t i = 0; i < a[l].size(); ++i) z += h.w[l][o][i] * a[l][i];
          a[l + 1].push_back(l + 1 < L ? std::max(0.0, z) : z);
        }
      }
      std::vector<double> delta(a[L].size());
      double mx = a[L][0], sum = 0;
      for (double v : a[L]) mx = std::max(mx, v);
      for (double v : a[L]) sum += std::exp(v - mx);
      for (size_t c = 0; c < delta.size(); ++c) {
        delta[c] = (std::exp(a[L][c] - mx) / sum - (c == (size_t)d.y[order[s]])) / bsz;
      }
      for (int l = L - 1; l >= 0; --l) {
        std::vector<double> prev(a[l].size(), 0.0);
        for (size_t o = 0; o < delta.size(); ++o) {
          grad.b[l][o] += delta[o];
          for (size_t i = 0; i < a[l].size(); ++i) {
            grad.w[l][o][i] += delta[o] * a[l][i];
            prev[i] += delta[o] * h.w[l][o][i];
          }
        }
        for (size_t i = 0; i < prev.size(); ++i) prev[i] *= a[l][i] > 0 ? 1 : 0;
        delta = prev;
      }
    }
    for (int l = 0; l < L; ++l) {
      for (size_t o = 0; o < h.w[l].size(); ++o) {
        auto step = [&](double& x, double g, double& v, double x0) {
          g += p.proximal_mu * (x - x0);
          v = p.momentum * v + g;
          x -= p.learning_rate * (p.momentum > 0 ? v : g);
        };
        step(h.b[l][o], grad.b[l][o], vel.b[l][o], anchor.b[l][o]);
        for (size_t i = 0; i < h.w[l][o].size(); ++i) {
          step(h.w[l][o][i], grad.w[l][o][i], vel.w[l][o][i], anchor.w[l][o][i]);
        }
      }
    }
  }
}

TEST(HeadTrainerTest, OneEpochMatchesNaiveImplementation) {
  for (TrainPlan plan :
       {TrainPlan{1, 7, 0.1f, 0.f, 0.f, 3}, TrainPlan{1, 5, 0.05f, 0.9f, 0.5f, 4}}) {
    Head head = MakeHead({8, 6, 4}, 21);
    Data data = RandomData(23, 8, 4, 9);
    NaiveHead naive(head), anchor(head), vel(head);
    for (int l = 0; l < 2; ++l) {
      for (auto& row : vel.w[l]) std::fill(row.begin(), row.end(), 0.0);
      std::fill(vel.b[l].begin(), vel.b[l].end(), 0.0);
    }
    NaiveEpoch(naive, data, plan, vel, anchor);
    auto trainer = *HeadTrainer::Create(head, plan);
    TrainState state;
    ASSERT_THAT(trainer->Train(head, data.x, data.y, kAlways, state), IsOk());
    for (int l = 0; l < 2; ++l)
      for (int o = 0; o < head.layers[l].out(); ++o) {
        EXPECT_NEAR(head.layers[l].b[o], naive.b[l][o], 1e-5);
        for (int i = 0; i < head.layers[l].in(); ++i)
          EXPECT_NEAR(head.layers[l].w(o, i), naive.w[l][o][i], 1e-5);
      }
  }
}

TEST(HeadTrainerTest, StopsWithinOneBatchAndResumesBitExactly) {
  const TrainPlan plan{3, 8, 0.05f, 0.9f, 0.1f, 77};
  Data data = RandomData(100, 16, 5, 5);
  Head straight = MakeHead({16, 12, 5}, 1);
  Head interrupted = straight;
  {
    auto t = *HeadTrainer::Create(straight, plan);
    TrainState s;
    ASSERT_THAT(t->Train(straight, data.x, data.y, kAlways, s), IsOk());
  }
  std::string saved;
  {
    auto t = *HeadTrainer::Create(interrupted, plan);
    TrainState s;
    int calls = 0;
    // The device is unplugged before the 20th batch.
    StatusOr<TrainResult> r = t->Train(
        interrupted, data.x, data.y, [&] { return ++calls < 20; }, s);
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->reason, StopReason::kIneligible);
    EXPECT_EQ(calls, 20);
    EXPECT_EQ(s.examples_seen, 19 * 8 - (19 > 13 ? 13 * 8 - 100 : 0));
    saved = s.Serialize(LinuxCrypto());
  }
  // A new process: a new trainer and the state read back from bytes.
  StatusOr<TrainState> restored = TrainState::Parse(saved, LinuxCrypto());
  ASSERT_THAT(restored, IsOk());
  auto t = *HeadTrainer::Create(interrupted, plan);
  StatusOr<TrainResult> r = t->Train(interrupted, data.x, data.y, kAlways, *restored);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->reason, StopReason::kCompleted);
  EXPECT_EQ(r->examples_seen, 300);
  const std::vector<float> a = straight.Flatten(), b = interrupted.Flatten();
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

TEST(HeadTrainerTest, AResumedStateThatDoesNotFitIsRefused) {
  const TrainPlan plan{2, 8, 0.05f, 0.9f, 0.1f, 7};
  Data data = RandomData(40, 16, 5, 3);
  Head head = MakeHead({16, 12, 5}, 1);
  auto t = *HeadTrainer::Create(head, plan);
  const std::vector<float> before = head.Flatten();
  auto refused = [&](auto mutate) {
    TrainState s;
    s.started = true;
    s.velocity.assign(before.size(), 0.f);
    s.anchor = before;
    mutate(s);
    return t->Train(head, data.x, data.y, kAlways, s).status().code() ==
           StatusCode::kInvalidArgument;
  };
  EXPECT_FALSE(refused([](TrainState&) {}));  // A fitting state trains.
  head = MakeHead({16, 12, 5}, 1);
  EXPECT_TRUE(refused([](TrainState& s) { s.velocity.resize(3); }));  // Short buffer.
  EXPECT_TRUE(refused([](TrainState& s) { s.anchor.clear(); }));
  EXPECT_TRUE(refused([](TrainState& s) { s.next_batch = int64_t{1} << 40; }));  // Past the data.
  EXPECT_TRUE(refused([](TrainState& s) { s.epoch = -3; }));
  EXPECT_TRUE(refused([](TrainState& s) { s.velocity[0] = std::nanf(""); }));
  EXPECT_EQ(head.Flatten(), before);  // Nothing trained on a refused state.
}

TEST(HeadTrainerTest, CorruptStateIsDataLoss) {
  TrainState s;
  s.started = true;
  s.velocity = {1, 2, 3};
  std::string bytes = s.Serialize(LinuxCrypto());
  EXPECT_THAT(TrainState::Parse(bytes.substr(0, bytes.size() - 1), LinuxCrypto()),
              StatusIs(absl::StatusCode::kDataLoss));
  bytes[10] ^= 1;
  EXPECT_THAT(TrainState::Parse(bytes, LinuxCrypto()), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(TrainState::Parse("", LinuxCrypto()), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(HeadTrainerTest, NoHeapAllocationInTheStepLoopAndWithinBudget) {
  Head head = MakeHead({128, 64, 10}, 3);
  ASSERT_EQ(head.num_params(), 8906);
  const TrainPlan plan{2, 10, 0.05f};
  auto trainer = *HeadTrainer::Create(head, plan);
  EXPECT_LE(trainer->working_bytes(), 64 * 1024);
  Data data = RandomData(200, 128, 10, 8);
  TrainState state;
  int calls = 0;
  g_allocations = 0;
  // Count from the first batch to the last: everything in between is the step
  // loop.
  StatusOr<TrainResult> r = trainer->Train(
      head, data.x, data.y,
      [&] {
        if (++calls == 1) g_counting = true;
        return true;
      },
      state);
  g_counting = false;
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(calls, 40);
  EXPECT_EQ(g_allocations.load(), 0);
}

// The workload's shapes (widths 128 -> 64 -> 10, batches of 10 with a short
// last one) take the vector paths of dense_kernels, including the overlapping
// last vector of the 10 classes; the naive double implementation must agree.
TEST(HeadTrainerTest, WorkloadShapesMatchNaiveImplementation) {
  for (TrainPlan plan :
       {TrainPlan{1, 10, 0.05f, 0.f, 0.f, 5}, TrainPlan{1, 10, 0.05f, 0.9f, 0.2f, 6}}) {
    Head head = MakeHead({128, 64, 10}, 31);
    for (DenseLayer& l : head.layers) l.b.setConstant(0.01f);
    Data data = RandomData(63, 128, 10, 12);
    data.x *= 0.3f;
    NaiveHead naive(head), anchor(head), vel(head);
    for (int l = 0; l < 2; ++l) {
      for (auto& row : vel.w[l]) std::fill(row.begin(), row.end(), 0.0);
      std::fill(vel.b[l].begin(), vel.b[l].end(), 0.0);
    }
    NaiveEpoch(naive, data, plan, vel, anchor);
    auto trainer = *HeadTrainer::Create(head, plan);
    TrainState state;
    ASSERT_THAT(trainer->Train(head, data.x, data.y, kAlways, state), IsOk());
    double worst = 0;
    for (int l = 0; l < 2; ++l)
      for (int o = 0; o < head.layers[l].out(); ++o) {
        worst = std::max(worst, std::fabs(head.layers[l].b[o] - naive.b[l][o]));
        for (int i = 0; i < head.layers[l].in(); ++i)
          worst = std::max(worst, std::fabs(head.layers[l].w(o, i) - naive.w[l][o][i]));
      }
    EXPECT_LT(worst, 2e-5) << "momentum " << plan.momentum;
  }
}

// `correct` counted independently: the trainer stops before every batch, the
// test scores that batch's examples (EpochOrder) with Evaluate on the head as
// it stands, then resumes from the serialized state; over 2 epochs and a short
// last batch.
TEST(HeadTrainerTest, CorrectCountsPredictionsBeforeEachStepAcrossResumptions) {
  const TrainPlan plan{2, 10, 0.1f, 0.f, 0.f, 17};
  Data data = RandomData(47, 12, 4, 21);
  Head head = MakeHead({12, 16, 4}, 2);
  auto trainer = *HeadTrainer::Create(head, plan);
  TrainState state;
  int64_t independent = 0, stops = 0;
  std::vector<int64_t> order(data.x.rows());
  while (stops < 100) {
    // Score the batch the state is positioned at, on the head as it stands.
    EpochOrder(plan.seed, state.epoch, order);
    const int64_t start = state.next_batch * plan.batch_size;
    const int64_t end = std::min<int64_t>(start + plan.batch_size, data.x.rows());
    for (int64_t k = start; k < end; ++k) {
      RowMatrixXf one = data.x.row(order[k]);
      const int32_t y = data.y[order[k]];
      independent += Evaluate(head, one, absl::MakeConstSpan(&y, 1))->accuracy == 1.0;
    }
    bool asked = false;  // One batch per call.
    StatusOr<TrainResult> r = trainer->Train(
        head, data.x, data.y, [&] { return !std::exchange(asked, true); }, state);
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->correct, independent);
    if (r->reason == StopReason::kCompleted) break;
    ++stops;
    StatusOr<TrainState> restored = TrainState::Parse(state.Serialize(LinuxCrypto()), LinuxCrypto());
    ASSERT_THAT(restored, IsOk());
    EXPECT_EQ(restored->correct, state.correct);
    state = *std::move(restored);
  }
  EXPECT_GT(independent, 0);
  EXPECT_LT(independent,
            2 * data.x.rows());  // Could fail: not every example right.
  EXPECT_EQ(stops, 2 * 5 - 1);   // 5 batches per epoch; the last call completes.
  EXPECT_EQ(state.examples_seen, 2 * data.x.rows());
}

// A state written before `correct` existed ("FTTS") still resumes.
TEST(HeadTrainerTest, ParsesTheFormerStateFormat) {
  std::string body = "FTTS";
  PutValue(body, static_cast<uint8_t>(1));
  PutValue(body, int{1});
  PutValue(body, int64_t{3});
  PutValue(body, int64_t{30});
  PutValue(body, double{12.5});
  PutFloats(body, {1.f, 2.f});
  PutFloats(body, {});
  StatusOr<TrainState> s = TrainState::Parse(WithSha256Trailer(body), LinuxCrypto());
  ASSERT_THAT(s, IsOk());
  EXPECT_TRUE(s->started);
  EXPECT_EQ(s->epoch, 1);
  EXPECT_EQ(s->next_batch, 3);
  EXPECT_EQ(s->examples_seen, 30);
  EXPECT_EQ(s->loss_sum, 12.5);
  EXPECT_EQ(s->correct, 0);
  EXPECT_EQ(s->velocity, (std::vector<float>{1.f, 2.f}));
  TrainState now = *s;
  now.correct = 7;
  EXPECT_EQ(TrainState::Parse(now.Serialize(LinuxCrypto()), LinuxCrypto())->correct, 7);
  // A count above the examples seen cannot come from a run: refused.
  Head head = MakeHead({4, 3}, 1);
  auto t = *HeadTrainer::Create(head, TrainPlan{});
  Data data = RandomData(5, 4, 3, 1);
  now.epoch = 0;
  now.next_batch = 0;
  now.velocity.clear();
  TrainState fits = now;
  fits.correct = 30;
  EXPECT_THAT(t->Train(head, data.x, data.y, kAlways, fits), IsOk());
  now.correct = 31;
  EXPECT_THAT(t->Train(head, data.x, data.y, kAlways, now),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HeadTrainerTest, LearnsASeparableProblem) {
  Data data = RandomData(400, 10, 4, 13);
  Head head = MakeHead({10, 16, 4}, 5);
  const double before = Evaluate(head, data.x, data.y)->accuracy;
  auto trainer = *HeadTrainer::Create(head, TrainPlan{10, 16, 0.1f, 0.f, 0.f, 1});
  TrainState state;
  ASSERT_THAT(trainer->Train(head, data.x, data.y, kAlways, state), IsOk());
  const Evaluation after = *Evaluate(head, data.x, data.y);
  EXPECT_GT(after.accuracy, 0.8);
  EXPECT_GT(after.accuracy, before + 0.3);
}

TEST(HeadTrainerTest, RejectsBadPlansAndData) {
  Head head = MakeHead({4, 3}, 1);
  EXPECT_THAT(HeadTrainer::Create(head, TrainPlan{0, 1, 0.1f}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(HeadTrainer::Create(head, TrainPlan{1, 1, -0.1f}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Infinity passes "> 0" and ">= 0" but would turn the head into NaN.
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_THAT(HeadTrainer::Create(head, TrainPlan{1, 1, inf}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(HeadTrainer::Create(head, TrainPlan{1, 1, 0.1f, 0.f, inf}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  auto t = *HeadTrainer::Create(head, TrainPlan{});
  Data data = RandomData(5, 4, 3, 1);
  data.y[2] = 7;
  TrainState s;
  EXPECT_THAT(t->Train(head, data.x, data.y, kAlways, s),
              StatusIs(absl::StatusCode::kInvalidArgument));
  RowMatrixXf wrong(5, 6);
  EXPECT_THAT(t->Train(head, wrong, data.y, kAlways, s),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedtiny::client
