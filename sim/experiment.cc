#include "sim/experiment.h"
#include "client/platform/linux/status_bridge.h"

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "aggregation/attacks.h"
#include "aggregation/factory.h"
#include "aggregation/server_optimizer.h"
#include "client/core/head_trainer.h"
#include "client/core/personalization.h"
#include "client/transport/model_proto.h"
#include "coordinator/task_config.h"
#include "proto/model_codec.h"
#include "sim/round_driver.h"
#include "sim/synthetic.h"
#include "sim/partition.h"
#include "sim/population.h"
#include "tools/base/status_macros.h"

namespace fedtiny::sim {

namespace {

using client::Body;
using client::DenseLayer;
using client::Head;
using client::RowMatrixXf;

// Client data computed once (the body's features of each device's images).
class PrecomputedSource final : public ClientDataSource {
 public:
  // `int8_clients` (the same examples through the int8 body) may be empty when
  // no device receives the int8 variant.
  PrecomputedSource(std::vector<ClientData> clients, std::vector<ClientData> int8_clients,
                    int64_t dim)
      : clients_(std::move(clients)), int8_clients_(std::move(int8_clients)), dim_(dim) {}
  int64_t num_clients() const override { return static_cast<int64_t>(clients_.size()); }
  int64_t feature_dim() const override { return dim_; }
  int64_t NumExamples(int64_t k) const override {
    return static_cast<int64_t>(clients_[k].labels.size());
  }
  ClientData Get(int64_t k) const override { return clients_[k]; }
  const ClientData& View(int64_t k, bool int8, ClientData&) const override {
    return int8 && !int8_clients_.empty() ? int8_clients_[k] : clients_[k];
  }

 private:
  const std::vector<ClientData> clients_;
  const std::vector<ClientData> int8_clients_;
  const int64_t dim_;
};

// A task name (1-64 of [a-z0-9-]) from a run name.
std::string TaskNameOf(const std::string& run) {
  std::string out;
  for (char ch : run.substr(0, 64)) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    out += (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') ? l : '-';
  }
  return out.empty() ? "sim" : out;
}

absl::Status Validate(const ExperimentConfig& c, const FashionMnist& data) {
  // The task's own fields are checked by the coordinator's validator.
  if (c.clients < 1 || c.task.clients_per_round() > c.clients || c.threads < 1 ||
      c.proxy < 1 || c.proxy >= data.train.images.rows() || c.eval_every < 1 ||
      c.cluster_groups < 1 || c.cluster_groups > 16 ||
      !(c.attacker_fraction >= 0 && c.attacker_fraction < 1)) {
    return absl::InvalidArgumentError(
        "experiment: need clients, threads >= 1; clients_per_round <= clients; "
        "eval_every >= 1; 0 < proxy < training examples; cluster_groups in [1, 16]; "
        "attacker_fraction in [0, 1)");
  }
  return absl::OkStatus();
}

// Pre-trains 784-128-64-10 centrally on the proxy split; returns the first
// layer as the frozen body.
absl::StatusOr<DenseLayer> PretrainBody(const ExperimentConfig& c, const FashionMnist& data,
                                        double* accuracy) {
  Head full = client::MakeHead({784, 128, 64, 10}, c.seed);
  ASSIGN_OR_RETURN(auto trainer,
                   client::ToAbsl(client::HeadTrainer::Create(
                       full, {c.pretrain_epochs, 32, 0.1f, 0, 0, c.seed})));
  const RowMatrixXf proxy = data.train.images.topRows(c.proxy);
  client::TrainState state;
  RETURN_IF_ERROR(client::ToAbsl(
      trainer->Train(full, proxy, absl::MakeConstSpan(data.train.labels).subspan(0, c.proxy),
                     [] { return true; }, state).status()));
  ASSIGN_OR_RETURN(client::Evaluation e,
                   client::ToAbsl(client::Evaluate(full, data.test.images, data.test.labels)));
  *accuracy = e.accuracy;
  return full.layers[0];
}

// The label permutation of data group g (group 0: identity), for populations
// with cluster structure: the same images mean different classes per group.
std::array<int32_t, 10> GroupPermutation(int g, uint64_t seed) {
  std::array<int32_t, 10> p;
  for (int i = 0; i < 10; ++i) p[i] = i;
  if (g == 0) return p;
  std::mt19937_64 rng(seed * 31 + static_cast<uint64_t>(g));
  std::shuffle(p.begin(), p.end(), rng);
  return p;
}

// Accuracy and loss on the test set: per data group, with the head that group's
// data would pick (lowest loss, as a device does), averaged over groups.
absl::StatusOr<client::Evaluation> EvaluateGroups(const std::vector<Head>& heads,
                                                  const RowMatrixXf& test,
                                                  const std::vector<int32_t>& labels,
                                                  int groups, uint64_t seed,
                                                  std::vector<double>* per_group) {
  client::Evaluation total;
  per_group->clear();
  for (int g = 0; g < groups; ++g) {
    const std::array<int32_t, 10> perm = GroupPermutation(g, seed);
    std::vector<int32_t> y(labels.size());
    for (size_t i = 0; i < y.size(); ++i) y[i] = perm[labels[i]];
    client::Evaluation best;
    best.loss = std::numeric_limits<double>::infinity();
    for (const Head& h : heads) {
      ASSIGN_OR_RETURN(client::Evaluation e, client::ToAbsl(client::Evaluate(h, test, y)));
      if (e.loss < best.loss) best = e;
    }
    per_group->push_back(best.accuracy);
    total.accuracy += best.accuracy / groups;
    total.loss += best.loss / groups;
  }
  total.examples = static_cast<int64_t>(labels.size());
  return total;
}

}  // namespace

absl::StatusOr<ExperimentResult> RunExperiment(
    const ExperimentConfig& config, const FashionMnist& data,
    const std::function<void(const RoundRecord&)>& on_round) {
  RETURN_IF_ERROR(Validate(config, data));
  // Bad specs fail before the expensive pre-training.
  ExperimentConfig c = config;
  if (c.task.name().empty()) c.task.set_name(TaskNameOf(c.name));
  {
    v1::TaskConfig probe = c.task;
    *probe.mutable_model() = client::ModelToProto(
        Body({client::MakeHead({784, 128}, 1).layers[0]}), client::MakeHead({128, 64, 10}, 1));
    RETURN_IF_ERROR(coordinator::ValidateTaskConfig(probe).status());
  }
  RETURN_IF_ERROR(aggregation::ParseAttack(c.attack).status());
  ExperimentResult result;

  // The frozen body; the task's model is that body and a fresh head. Devices
  // see the body of the variant the coordinator sends them (float32, or int8
  // for small devices), so features are computed through both, once.
  ASSIGN_OR_RETURN(DenseLayer layer, PretrainBody(c, data, &result.pretrain_accuracy));
  *c.task.mutable_model() = client::ModelToProto(Body({layer}), client::MakeHead({128, 64, 10}, c.seed + 1));
  result.config = c;
  ASSIGN_OR_RETURN(const Body body_f32, client::BodyFromProto(c.task.model()));
  ASSIGN_OR_RETURN(const Body body_i8, client::BodyFromProto(Int8BodyVariant(c.task.model())));
  ASSIGN_OR_RETURN(RowMatrixXf train_f32, client::ToAbsl(body_f32.Features(data.train.images)));
  ASSIGN_OR_RETURN(RowMatrixXf test_f32, client::ToAbsl(body_f32.Features(data.test.images)));
  RowMatrixXf train_i8;
  if (c.heterogeneous) {
    ASSIGN_OR_RETURN(train_i8, client::ToAbsl(body_i8.Features(data.train.images)));
  }

  // Partition the non-proxy examples and give each client its features.
  std::mt19937_64 rng(c.seed);
  const absl::Span<const int32_t> fed_labels =
      absl::MakeConstSpan(data.train.labels).subspan(c.proxy);
  ASSIGN_OR_RETURN(Partition parts,
                   MakePartition(c.partition, fed_labels, 10, c.clients, c.alpha, rng));
  const Population population(c.clients, c.attacker_fraction, c.heterogeneous, c.seed);
  std::vector<std::array<int32_t, 10>> group_perm;
  for (int g = 0; g < c.cluster_groups; ++g) group_perm.push_back(GroupPermutation(g, c.seed));
  std::vector<ClientData> clients(c.clients), clients_i8(c.heterogeneous ? c.clients : 0);
  for (int k = 0; k < c.clients; ++k) {
    clients[k].features.resize(parts[k].size(), 128);
    if (c.heterogeneous) clients_i8[k].features.resize(parts[k].size(), 128);
    for (size_t i = 0; i < parts[k].size(); ++i) {
      const int64_t row = parts[k][i] + c.proxy;
      clients[k].features.row(i) = train_f32.row(row);
      if (c.heterogeneous) clients_i8[k].features.row(i) = train_i8.row(row);
      // Devices of data group k % cluster_groups see permuted labels.
      clients[k].labels.push_back(group_perm[k % c.cluster_groups][data.train.labels[row]]);
    }
    if (c.heterogeneous) clients_i8[k].labels = clients[k].labels;
  }

  const PrecomputedSource source(std::move(clients), std::move(clients_i8), 128);
  const EvaluateFn evaluate = [&](const std::vector<Head>& h, std::vector<double>* groups) {
    return EvaluateGroups(h, test_f32, data.test.labels, c.cluster_groups, c.seed, groups);
  };
  RETURN_IF_ERROR(RunInProcess(c, source, population, evaluate, result, on_round));
  return result;
}

absl::StatusOr<ExperimentResult> RunSyntheticExperiment(
    const ExperimentConfig& config, const SyntheticOptions& options,
    const std::function<void(const RoundRecord&)>& on_round) {
  if (options.clients < config.task.clients_per_round() || config.eval_every < 1 ||
      config.threads < 1) {
    return absl::InvalidArgumentError(
        "synthetic: need threads, eval_every >= 1 and clients >= clients_per_round");
  }
  ExperimentConfig c = config;
  if (c.task.name().empty()) c.task.set_name(TaskNameOf(c.name));
  // Multinomial logistic regression, as in the FedProx paper: no body.
  *c.task.mutable_model() = client::ModelToProto(
      Body(), client::MakeHead({kSyntheticDim, kSyntheticClasses}, c.seed + 1));
  c.task.mutable_model()->set_input_dim(kSyntheticDim);
  ExperimentResult result;
  result.config = c;
  const SyntheticSource source(options);
  const Population population(static_cast<int>(options.clients), c.attacker_fraction,
                              c.heterogeneous, c.seed);
  // Test set: held-out examples of up to 1,000 devices spread over the population.
  const int64_t eval_devices = std::min<int64_t>(1000, options.clients);
  client::RowMatrixXf test_x(eval_devices * 20, kSyntheticDim);
  std::vector<int32_t> test_y;
  for (int64_t i = 0; i < eval_devices; ++i) {
    const ClientData t = source.Test(i * (options.clients / eval_devices), 20);
    test_x.middleRows(i * 20, 20) = t.features;
    test_y.insert(test_y.end(), t.labels.begin(), t.labels.end());
  }
  const EvaluateFn evaluate = [&](const std::vector<Head>& h, std::vector<double>* groups) {
    return EvaluateGroups(h, test_x, test_y, 1, c.seed, groups);
  };
  RETURN_IF_ERROR(RunInProcess(c, source, population, evaluate, result, on_round));
  return result;
}

}  // namespace fedtiny::sim
