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

// Client data computed once: each device's examples through the body of
// every model variant (float32, int8, the task's body variants).
class PrecomputedSource final : public ClientDataSource {
 public:
  struct Variant {
    std::vector<ClientData> clients;
    double multiply_adds = 0;  // Of the variant's body, per example.
  };
  // `variants` must hold "float32"; a device given a variant not held sees
  // the float32 body's features.
  PrecomputedSource(std::map<std::string, Variant> variants, int64_t dim)
      : variants_(std::move(variants)), f32_(variants_.at("float32")), dim_(dim) {}
  int64_t num_clients() const override { return static_cast<int64_t>(f32_.clients.size()); }
  int64_t feature_dim() const override { return dim_; }
  int64_t NumExamples(int64_t k) const override {
    return static_cast<int64_t>(f32_.clients[k].labels.size());
  }
  ClientData Get(int64_t k) const override { return f32_.clients[k]; }
  const ClientData& View(int64_t k, const std::string& variant, ClientData&) const override {
    return Of(variant).clients[k];
  }
  double BodyMultiplyAdds(const std::string& variant) const override {
    return Of(variant).multiply_adds;
  }

 private:
  const Variant& Of(const std::string& variant) const {
    auto it = variants_.find(variant);
    return it == variants_.end() ? f32_ : it->second;
  }
  const std::map<std::string, Variant> variants_;
  const Variant& f32_;
  const int64_t dim_;
};

// Body::Features over `threads` threads (rows split in blocks; a
// convolutional body costs about 1 M multiply-adds per image).
absl::StatusOr<RowMatrixXf> ParallelFeatures(const Body& body, const RowMatrixXf& x, int threads) {
  const int64_t n = x.rows();
  const int64_t block = std::max<int64_t>(256, (n + threads - 1) / threads);
  std::vector<absl::StatusOr<RowMatrixXf>> parts(static_cast<size_t>((n + block - 1) / block));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < parts.size(); i = next++) {
      const int64_t at = static_cast<int64_t>(i) * block;
      parts[i] = client::ToAbsl(body.Features(x.middleRows(at, std::min(block, n - at))));
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  if (parts.empty()) return client::ToAbsl(body.Features(x));
  for (const auto& p : parts) RETURN_IF_ERROR(p.status());
  RowMatrixXf out(n, parts[0]->cols());
  for (size_t i = 0; i < parts.size(); ++i) {
    out.middleRows(static_cast<int64_t>(i) * block, parts[i]->rows()) = *parts[i];
  }
  return out;
}

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

// The comparison runs of compare_with_fedavg, on the same data source (the
// same devices, features and seed): FedAvg under the experiment's attack,
// then FedAvg without attackers. Skipped where they would repeat the run.
absl::Status Compare(const ExperimentConfig& c, const ClientDataSource& source,
                     const EvaluateFn& evaluate, ExperimentResult& result) {
  struct Reference {
    const char* label;
    bool same_attack;
  };
  for (const Reference& ref : {Reference{"fedavg, same attack", true},
                               Reference{"fedavg, no attackers", false}}) {
    const double attackers = ref.same_attack ? c.attacker_fraction : 0.0;
    // Without attackers there is no "same attack"; FedAvg is not compared with itself.
    if ((ref.same_attack && c.attacker_fraction == 0) ||
        (c.task.aggregator() == "fedavg" && attackers == c.attacker_fraction)) {
      continue;
    }
    ExperimentConfig rc = c;
    rc.task.set_aggregator("fedavg");
    rc.attacker_fraction = attackers;
    rc.personalize_devices = 0;
    rc.compare_with_fedavg = false;
    const Population population(rc.clients, rc.attacker_fraction, rc.heterogeneous, rc.seed);
    ExperimentResult r;
    RETURN_IF_ERROR(RunInProcess(rc, source, population, evaluate, r, nullptr));
    result.comparisons.push_back({ref.label, "fedavg", attackers, r.final_accuracy});
  }
  return absl::OkStatus();
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
    *probe.mutable_model() =
        c.initial_model.head_size() > 0
            ? c.initial_model
            : client::ModelToProto(Body({client::MakeHead({784, 128}, 1).layers[0]}),
                                   client::MakeHead({128, 64, 10}, 1));
    RETURN_IF_ERROR(coordinator::ValidateTaskConfig(probe).status());
  }
  RETURN_IF_ERROR(aggregation::ParseAttack(c.attack).status());
  ExperimentResult result;
  std::map<std::string, RowMatrixXf> variant_train, variant_test;

  // The frozen body; the task's model is that body and a fresh head: the
  // dense body pre-trained here, or the operator's (initial_model). Devices
  // see the body of the variant the coordinator sends them (float32, int8
  // for small devices, or a body variant), so features are computed through
  // each, once.
  std::vector<int64_t> head_dims = {128, 64, 10};
  if (c.initial_model.head_size() > 0) {
    head_dims = {c.initial_model.head(0).inputs()};
    for (const v1::DenseLayer& l : c.initial_model.head()) head_dims.push_back(l.outputs());
    *c.task.mutable_model() = c.initial_model;
    *c.task.mutable_model()->mutable_head() =
        client::ModelToProto(Body(), client::MakeHead(head_dims, c.seed + 1)).head();
  } else {
    ASSIGN_OR_RETURN(DenseLayer layer, PretrainBody(c, data, &result.pretrain_accuracy));
    *c.task.mutable_model() =
        client::ModelToProto(Body({layer}), client::MakeHead(head_dims, c.seed + 1));
  }
  if (head_dims.back() != 10) {
    return absl::InvalidArgumentError("experiment: the model's head must output 10 classes");
  }
  RETURN_IF_ERROR(coordinator::ValidateTaskConfig(c.task).status());
  result.config = c;
  const int64_t dim = head_dims.front();
  std::map<std::string, PrecomputedSource::Variant> variants;
  RowMatrixXf test_f32;
  for (const auto& [name, model] : coordinator::TemplatesOf(c.task)) {
    if (name == "int8" && !c.heterogeneous) continue;
    ASSIGN_OR_RETURN(const Body body, client::BodyFromProto(model));
    ASSIGN_OR_RETURN(RowMatrixXf train, ParallelFeatures(body, data.train.images, c.threads));
    ASSIGN_OR_RETURN(RowMatrixXf test, ParallelFeatures(body, data.test.images, c.threads));
    if (name == "float32") test_f32 = test;
    variant_test[name] = std::move(test);
    VariantReport& report = result.variants[name];
    report.body_multiply_adds = body.multiply_adds();
    report.bundle_bytes = static_cast<int64_t>(model.ByteSizeLong());
    PrecomputedSource::Variant& v = variants[name];
    v.multiply_adds = static_cast<double>(body.multiply_adds());
    v.clients.resize(static_cast<size_t>(c.clients));
    variant_train[name] = std::move(train);
  }

  // Partition the non-proxy examples and give each client its features.
  std::mt19937_64 rng(c.seed);
  const absl::Span<const int32_t> fed_labels =
      absl::MakeConstSpan(data.train.labels).subspan(c.proxy);
  ASSIGN_OR_RETURN(Partition parts,
                   MakePartition(c.partition, fed_labels, 10, c.clients, c.alpha, rng));
  const Population population(c.clients, c.attacker_fraction, c.heterogeneous, c.seed,
                              c.speed_sigma);
  std::vector<std::array<int32_t, 10>> group_perm;
  for (int g = 0; g < c.cluster_groups; ++g) group_perm.push_back(GroupPermutation(g, c.seed));
  for (auto& [name, v] : variants) {
    const RowMatrixXf& train = variant_train.at(name);
    for (int k = 0; k < c.clients; ++k) {
      ClientData& d = v.clients[k];
      d.features.resize(static_cast<int64_t>(parts[k].size()), dim);
      for (size_t i = 0; i < parts[k].size(); ++i) {
        const int64_t row = parts[k][i] + c.proxy;
        d.features.row(static_cast<int64_t>(i)) = train.row(row);
        // Devices of data group k % cluster_groups see permuted labels.
        d.labels.push_back(group_perm[k % c.cluster_groups][data.train.labels[row]]);
      }
    }
  }
  variant_train.clear();

  const PrecomputedSource source(std::move(variants), dim);
  std::vector<Head> last_heads;
  const EvaluateFn evaluate = [&](const std::vector<Head>& h, std::vector<double>* groups) {
    last_heads = h;
    return EvaluateGroups(h, test_f32, data.test.labels, c.cluster_groups, c.seed, groups);
  };
  RETURN_IF_ERROR(RunInProcess(c, source, population, evaluate, result, on_round));
  const std::vector<Head> final_heads = last_heads;
  if (c.compare_with_fedavg) RETURN_IF_ERROR(Compare(c, source, evaluate, result));
  last_heads = final_heads;
  // Each variant's accuracy with the final heads: what its devices see.
  for (auto& [name, report] : result.variants) {
    std::vector<double> groups;
    ASSIGN_OR_RETURN(client::Evaluation e,
                     EvaluateGroups(last_heads, variant_test.at(name), data.test.labels,
                                    c.cluster_groups, c.seed, &groups));
    report.final_accuracy = e.accuracy;
  }
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
                              c.heterogeneous, c.seed, c.speed_sigma);
  // Test set: held-out examples of up to 1,000 devices spread over the population.
  const int64_t eval_devices = std::min<int64_t>(1000, options.clients);
  std::vector<ClientData> held_out;
  int64_t rows = 0;
  for (int64_t i = 0; i < eval_devices; ++i) {
    const int64_t k = i * (options.clients / eval_devices);
    const int64_t n = options.test_examples > 0 ? options.test_examples
                                                : std::max<int64_t>(1, source.NumExamples(k) / 4);
    held_out.push_back(source.Test(k, n));
    rows += n;
  }
  client::RowMatrixXf test_x(rows, kSyntheticDim);
  std::vector<int32_t> test_y;
  for (const ClientData& t : held_out) {
    test_x.middleRows(static_cast<int64_t>(test_y.size()), t.features.rows()) = t.features;
    test_y.insert(test_y.end(), t.labels.begin(), t.labels.end());
  }
  std::vector<Head> last;  // The heads of the latest evaluation.
  const EvaluateFn evaluate = [&](const std::vector<Head>& h, std::vector<double>* groups) {
    last = h;
    return EvaluateGroups(h, test_x, test_y, 1, c.seed, groups);
  };
  RETURN_IF_ERROR(RunInProcess(c, source, population, evaluate, result, on_round));
  if (options.clients <= 1000 && last.size() == 1) {
    // Example-weighted over devices, as the paper's training loss.
    double loss = 0;
    int64_t n = 0;
    for (int64_t k = 0; k < options.clients; ++k) {
      const ClientData d = source.Get(k);
      absl::StatusOr<client::Evaluation> e = client::ToAbsl(client::Evaluate(last[0], d.features, d.labels));
      if (!e.ok()) return e.status();
      loss += e->loss * static_cast<double>(d.labels.size());
      n += static_cast<int64_t>(d.labels.size());
    }
    result.final_train_loss = n > 0 ? loss / static_cast<double>(n) : -1;
  }
  return result;
}

}  // namespace fedtiny::sim
