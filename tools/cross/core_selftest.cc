// The SDK's own training code on every target: client/core's Body, HeadTrainer
// and Evaluate (not a stand-in), on deterministic data. Prints every value as
// `v <name> <index> <hex bits>` for compare_outputs.py, and checks on the
// target itself that training interrupted and resumed from its TrainState gives
// the same head, bit for bit, as training straight through. Exit status 0 when
// every check passed.
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "client/core/head_trainer.h"
#include "client/core/model.h"

namespace {

using fedtiny::client::Body;
using fedtiny::client::DenseLayer;
using fedtiny::client::Head;
using fedtiny::client::HeadTrainer;
using fedtiny::client::RowMatrixXf;
using fedtiny::client::TrainPlan;
using fedtiny::client::TrainState;

constexpr int kExamples = 40, kIn = 24, kHidden = 16, kClasses = 4;

// A deterministic generator of values in [-1, 1), the same on every target.
struct Lcg {
  uint32_t s;
  float Next() {
    s = s * 1664525u + 1013904223u;
    return static_cast<float>(s >> 8) / 8388608.0f - 1.0f;
  }
};

void Print(const char* name, const float* v, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &v[i], 4);
    // newlib-nano's printf has no %zu or %llu: plain unsigned and int.
    std::printf("v %s %u %08lx\n", name, static_cast<unsigned>(i), static_cast<unsigned long>(bits));
  }
}

}  // namespace

int main() {
  std::printf("# fedtiny core selftest: client/core's Body, HeadTrainer, Evaluate\n");
  Lcg rng{2024u};
  RowMatrixXf x(kExamples, kIn);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = rng.Next();
  std::vector<int32_t> labels(kExamples);
  for (int r = 0; r < kExamples; ++r) labels[static_cast<size_t>(r)] = r % kClasses;

  // The frozen body: one dense ReLU layer, weights as the SDK stores them.
  Head layer = fedtiny::client::MakeHead({kIn, kHidden, 2}, 7);
  DenseLayer dense = layer.layers[0];
  dense.relu = true;
  Body body({dense});
  fedtiny::client::StatusOr<RowMatrixXf> features = body.Features(x);
  if (!features.ok()) {
    std::printf("FAIL body: %s\n", features.status().message().c_str());
    return 1;
  }
  Print("features", features->data(), static_cast<size_t>(features->size()));

  TrainPlan plan;
  plan.epochs = 3;
  plan.batch_size = 8;
  plan.learning_rate = 0.1f;
  plan.momentum = 0.5f;
  plan.seed = 11;
  const Head start = fedtiny::client::MakeHead({kHidden, 8, kClasses}, 3);
  auto trainer = HeadTrainer::Create(start, plan);
  if (!trainer.ok()) {
    std::printf("FAIL trainer: %s\n", trainer.status().message().c_str());
    return 1;
  }
  Head straight = start;
  TrainState s1;
  auto r1 = (*trainer)->Train(straight, *features, labels, [] { return true; }, s1);
  if (!r1.ok()) {
    std::printf("FAIL train: %s\n", r1.status().message().c_str());
    return 1;
  }
  const std::vector<float> flat = straight.Flatten();
  Print("head", flat.data(), flat.size());
  const float loss = static_cast<float>(r1->mean_loss);
  Print("mean_loss", &loss, 1);

  // Interrupted after 5 batches (the device was unplugged), then resumed.
  Head resumed = start;
  TrainState s2;
  int batches = 0;
  auto r2 = (*trainer)->Train(resumed, *features, labels, [&] { return batches++ < 5; }, s2);
  if (!r2.ok() || r2->reason != fedtiny::client::StopReason::kIneligible) {
    std::printf("FAIL: the interrupted run did not stop when told\n");
    return 1;
  }
  auto r3 = (*trainer)->Train(resumed, *features, labels, [] { return true; }, s2);
  const std::vector<float> flat2 = resumed.Flatten();
  if (!r3.ok() || flat2.size() != flat.size() ||
      std::memcmp(flat2.data(), flat.data(), flat.size() * sizeof(float)) != 0) {
    std::printf("FAIL: resumed training differs from training straight through\n");
    return 1;
  }
  auto eval = fedtiny::client::Evaluate(straight, *features, labels);
  if (!eval.ok()) return 1;
  const float acc = static_cast<float>(eval->accuracy);
  Print("accuracy", &acc, 1);
  std::printf("# working set %ld bytes; loss %.6f -> accuracy %.4f; resume identical\n",
              static_cast<long>((*trainer)->working_bytes()), static_cast<double>(loss),
              static_cast<double>(acc));
  return 0;
}
