// Issue 16's bar on the real Fashion-MNIST data: the convolutional workload
// (sim/models/ds_cnn.onnx, imported as `flctl models import` does, the int8
// variant calibrated on the proxy split) beats the dense one at the same
// number of rounds, with the same population, plan and seed; and the
// simulator serves, charges and reports its variants.
#include <cstdlib>
#include <string>

#include "coordinator/models/import_command.h"
#include "gtest/gtest.h"
#include "sim/experiment.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::sim {
namespace {

using ::fedtiny::testing::IsOk;

std::string Runfile(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  return std::string(srcdir ? srcdir : ".") + "/" + (ws ? ws : "__main__") + "/" + path;
}

// The experiment's default task (plan 1 x 10 x 0.05, FedAvg, no attackers)
// over 400 heterogeneous devices, 40 per round, 50 rounds.
ExperimentConfig Config(const std::string& name) {
  ExperimentConfig c;
  c.name = name;
  c.clients = 400;
  c.task.set_clients_per_round(40);
  c.task.set_rounds(50);
  c.eval_every = 50;
  c.threads = 2;
  return c;
}

TEST(CnnWorkloadTest, BeatsTheDenseBodyAtTheSameRoundsAndReportsItsVariants) {
  absl::StatusOr<FashionMnist> data = LoadFashionMnist();
  ASSERT_THAT(data, IsOk());
  // Half the data keeps the test quick: the 6000 proxy examples and 24000 to
  // federate, 5000 to test on.
  data->train.images = data->train.images.topRows(30000).eval();
  data->train.labels.resize(30000);
  data->test.images = data->test.images.topRows(5000).eval();
  data->test.labels.resize(5000);

  absl::StatusOr<ExperimentResult> dense = RunExperiment(Config("dense"), *data);
  ASSERT_THAT(dense, IsOk());

  coordinator::ImportArgs a;
  a.onnx_path = Runfile("sim/models/ds_cnn.onnx");
  a.head_layers = 2;
  a.proxy_images = std::string(kFashionMnistDir) + "/train-images-idx3-ubyte.gz";
  a.proxy_labels = std::string(kFashionMnistDir) + "/train-labels-idx1-ubyte.gz";
  a.proxy_count = 6000;  // The proxy split the dense body is pre-trained on.
  absl::StatusOr<coordinator::ImportResult> imported = coordinator::RunImport(a);
  ASSERT_THAT(imported, IsOk());
  ExperimentConfig c = Config("cnn");
  c.initial_model = imported->model;
  *c.task.mutable_body_variants() = imported->variants.body_variants();
  absl::StatusOr<ExperimentResult> cnn = RunExperiment(c, *data);
  ASSERT_THAT(cnn, IsOk());

  std::printf("after 50 rounds: dense %.4f, cnn %.4f (int8 body %.4f)\n", dense->final_accuracy,
              cnn->final_accuracy, cnn->variants.at("int8").final_accuracy);
  EXPECT_GT(cnn->final_accuracy, dense->final_accuracy + 0.005);
  // The same head shape federates in both (64 -> 10 after 128 features).
  EXPECT_EQ(cnn->rounds.size(), dense->rounds.size());

  // Variants: the server-calibrated int8 body stays within a point of float,
  // downloads less, and both bodies' work per example is what they are.
  const VariantReport& f32 = cnn->variants.at("float32");
  const VariantReport& i8 = cnn->variants.at("int8");
  EXPECT_NEAR(i8.final_accuracy, f32.final_accuracy, 0.01);
  EXPECT_LT(i8.bundle_bytes, f32.bundle_bytes);
  EXPECT_EQ(f32.body_multiply_adds, imported->report[0].multiply_adds);
  EXPECT_EQ(i8.body_multiply_adds, f32.body_multiply_adds);  // Int8Network counts alike.
  EXPECT_GT(f32.body_multiply_adds, 5 * dense->variants.at("float32").body_multiply_adds);
  // A conv bundle is a fraction of the dense one's (784 x 128 float weights).
  EXPECT_LT(f32.bundle_bytes, dense->variants.at("float32").bundle_bytes / 4);
}

}  // namespace
}  // namespace fedtiny::sim
