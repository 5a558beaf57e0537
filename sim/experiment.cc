#include "sim/experiment.h"

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
#include "coordinator/round_engine.h"
#include "sim/partition.h"
#include "sim/population.h"
#include "tools/base/status_macros.h"

namespace fedtiny::sim {

namespace {

using client::Body;
using client::DenseLayer;
using client::Head;
using client::RowMatrixXf;

struct ClientData {
  RowMatrixXf features;
  std::vector<int32_t> labels;
};

absl::Status Validate(const ExperimentConfig& c, const FashionMnist& data) {
  if (c.rounds < 1 || c.clients < 1 || c.per_round < 1 || c.per_round > c.clients ||
      c.over_selection < 1 || c.epochs < 1 || c.batch < 1 || !(c.lr > 0) || c.threads < 1 ||
      c.proxy < 1 || c.proxy >= data.train.images.rows() || c.eval_every < 1 ||
      c.clusters < 1 || c.clusters > 16 || c.cluster_groups < 1 || c.cluster_groups > 16 ||
      !(c.attacker_fraction >= 0 && c.attacker_fraction < 1)) {
    return absl::InvalidArgumentError(
        "experiment: need rounds, clients, epochs, batch, threads >= 1; "
        "1 <= per_round <= clients; over_selection >= 1; lr > 0; eval_every >= 1; "
        "0 < proxy < training examples; attacker_fraction in [0, 1)");
  }
  return absl::OkStatus();
}

// Pre-trains 784-128-64-10 centrally on the proxy split; returns the first
// layer as the frozen body.
absl::StatusOr<DenseLayer> PretrainBody(const ExperimentConfig& c, const FashionMnist& data,
                                        double* accuracy) {
  Head full = client::MakeHead({784, 128, 64, 10}, c.seed);
  ASSIGN_OR_RETURN(auto trainer,
                   client::HeadTrainer::Create(full, {c.pretrain_epochs, 32, 0.1f, 0, 0, c.seed}));
  const RowMatrixXf proxy = data.train.images.topRows(c.proxy);
  client::TrainState state;
  RETURN_IF_ERROR(trainer->Train(full, proxy,
                                 absl::MakeConstSpan(data.train.labels).subspan(0, c.proxy),
                                 [] { return true; }, state).status());
  ASSIGN_OR_RETURN(client::Evaluation e, client::Evaluate(full, data.test.images, data.test.labels));
  *accuracy = e.accuracy;
  return full.layers[0];
}

// Trains the clients listed in `ids` in parallel, each from `heads[cluster[k]]`,
// the head its IFCA choice picked; updates[k] = trained - that head.
void TrainClients(const ExperimentConfig& c, const std::vector<Head>& heads,
                  const std::vector<ClientData>& clients, const std::vector<int>& ids,
                  const std::vector<int>& cluster, int round,
                  std::vector<std::vector<float>>& updates) {
  updates.assign(ids.size(), {});
  std::atomic<size_t> next{0};
  auto worker = [&] {
    client::TrainPlan plan{c.epochs, c.batch, c.lr, 0.f, c.prox_mu, 0};
    auto trainer = *client::HeadTrainer::Create(heads[0], plan);
    for (size_t k = next++; k < ids.size(); k = next++) {
      const Head& start = heads[cluster[k]];
      Head local = start;
      client::TrainState state;
      // Per client and round, so runs repeat whatever the thread interleaving.
      trainer->set_seed(c.seed * 1000003ull + static_cast<uint64_t>(round) * 7919ull + ids[k]);
      const ClientData& d = clients[ids[k]];
      if (!trainer->Train(local, d.features, d.labels, [] { return true; }, state).ok()) continue;
      std::vector<float> u = local.Flatten();
      const std::vector<float> base = start.Flatten();
      for (size_t i = 0; i < u.size(); ++i) u[i] -= base[i];
      updates[k] = std::move(u);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < c.threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
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
      ASSIGN_OR_RETURN(client::Evaluation e, client::Evaluate(h, test, y));
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
    const ExperimentConfig& c, const FashionMnist& data,
    const std::function<void(const RoundRecord&)>& on_round) {
  RETURN_IF_ERROR(Validate(c, data));
  ASSIGN_OR_RETURN(aggregation::AggregatorFactory make_aggregator,
                   aggregation::ParseAggregatorSpec(c.aggregator));
  RETURN_IF_ERROR(aggregation::ParseServerOptimizer(c.server_optimizer).status());
  ASSIGN_OR_RETURN(aggregation::AttackConfig attack, aggregation::ParseAttack(c.attack));
  ExperimentResult result;
  result.config = c;

  // The frozen body and the features it gives, float32 and int8.
  ASSIGN_OR_RETURN(DenseLayer layer, PretrainBody(c, data, &result.pretrain_accuracy));
  const Body body_f32({layer});
  const Body body_i8({client::Quantize(layer)});
  ASSIGN_OR_RETURN(RowMatrixXf train_f32, body_f32.Features(data.train.images));
  ASSIGN_OR_RETURN(RowMatrixXf test_f32, body_f32.Features(data.test.images));
  RowMatrixXf train_i8;
  if (c.heterogeneous) {
    ASSIGN_OR_RETURN(train_i8, body_i8.Features(data.train.images));
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
  std::vector<ClientData> clients(c.clients);
  for (int k = 0; k < c.clients; ++k) {
    const RowMatrixXf& src = population.class_of(k).int8_body && c.heterogeneous ? train_i8 : train_f32;
    clients[k].features.resize(parts[k].size(), 128);
    for (size_t i = 0; i < parts[k].size(); ++i) {
      const int64_t row = parts[k][i] + c.proxy;
      clients[k].features.row(i) = src.row(row);
      // Devices of data group k % cluster_groups see permuted labels.
      clients[k].labels.push_back(group_perm[k % c.cluster_groups][data.train.labels[row]]);
    }
  }

  // The coordinator's round engine runs the rounds, as it does in the server.
  std::vector<Head> heads;
  std::map<int, coordinator::ClusterModel> models;
  for (int k = 0; k < c.clusters; ++k) {
    heads.push_back(client::MakeHead({128, 64, 10}, c.seed + 1 + k));
    models[k] = coordinator::ClusterModel{heads.back().Flatten(), 0, ""};
  }
  const int64_t dim = heads[0].num_params();
  const int64_t model_bytes = dim * static_cast<int64_t>(sizeof(float));
  coordinator::EngineConfig ec;
  ec.task = c.name.empty() ? "sim" : c.name;
  ec.rounds = c.rounds;
  ec.goal = c.per_round;
  ec.over_selection = c.over_selection;
  ec.min_reports = std::max(1, static_cast<int>(std::ceil(c.min_report_fraction * c.per_round)));
  ec.deadline = absl::Seconds(c.deadline_s);
  ec.clusters = c.clusters;
  ec.dim = dim;
  ec.aggregator = c.aggregator;
  ec.server_optimizer = c.server_optimizer;
  ec.eligibility = coordinator::Eligibility{false, false, false, 0};  // Availability is the population's.
  aggregation::SeededRandomSource tokens(c.seed ^ 0x70CE75ull);
  ASSIGN_OR_RETURN(std::unique_ptr<coordinator::RoundEngine> engine,
                   coordinator::RoundEngine::Create(ec, models, 1, 0, &tokens));
  result.aggregator_name = make_aggregator(dim)->Name();
  aggregation::SeededRandomSource attack_noise(c.seed ^ 0xA77AC4ull);
  const absl::Time epoch = absl::UnixEpoch();

  const auto start = std::chrono::steady_clock::now();
  double now = 0;
  std::uniform_real_distribution<double> unit(0, 1);
  for (int r = 1; r <= c.rounds; ++r) {
    RoundRecord rec;
    rec.round = r;
    // Selection: available devices check in until the engine's round is full.
    std::vector<int> eligible;
    for (int k = 0; k < c.clients; ++k)
      if (population.Available(k, now) && !clients[k].labels.empty()) eligible.push_back(k);
    std::shuffle(eligible.begin(), eligible.end(), rng);
    std::vector<std::pair<int, coordinator::Admitted>> admitted;
    const int want = static_cast<int>(std::ceil(c.per_round * c.over_selection));
    for (int k : eligible) {
      if (static_cast<int>(admitted.size()) >= want) break;
      coordinator::DeviceCheckIn d{absl::StrCat(k), population.class_of(k).name, true, true, true, 100};
      auto outcome = engine->CheckIn(d, epoch + absl::Seconds(now));
      if (auto* a = std::get_if<coordinator::Admitted>(&outcome)) admitted.emplace_back(k, *a);
    }
    rec.selected = static_cast<int>(admitted.size());
    // Who finishes, and when (virtual time).
    struct Finisher {
      double secs;
      int client;
      std::string token;
      int64_t round;
    };
    std::vector<Finisher> finishers;
    for (const auto& [k, a] : admitted) {
      const double flops = 6.0 * dim * clients[k].labels.size() * c.epochs;
      const double secs = population.RoundSeconds(k, model_bytes * c.clusters, model_bytes, flops);
      rec.bytes_down += model_bytes * c.clusters;
      const bool interrupted = c.heterogeneous && (unit(rng) < population.class_of(k).dropout ||
                                                   !population.Available(k, now + secs));
      if (interrupted) {
        ++rec.dropped;
      } else if (secs > c.deadline_s) {
        ++rec.stragglers;
      } else {
        finishers.push_back({secs, k, a.token, a.round});
      }
    }
    std::sort(finishers.begin(), finishers.end(),
              [](const Finisher& x, const Finisher& y) { return x.secs < y.secs; });
    if (static_cast<int>(finishers.size()) > c.per_round) {
      rec.stragglers += static_cast<int>(finishers.size()) - c.per_round;  // Past the goal.
      finishers.resize(c.per_round);
    }
    // Each device picks the cluster head with the lowest loss on its data (IFCA).
    std::vector<int> honest, malicious, honest_cluster;
    std::vector<size_t> honest_at, malicious_at;
    for (size_t i = 0; i < finishers.size(); ++i) {
      const int k = finishers[i].client;
      int cluster = 0;
      if (c.clusters > 1) {
        absl::StatusOr<client::ClusterChoice> choice =
            client::PickCluster(heads, clients[k].features, clients[k].labels);
        if (choice.ok()) cluster = choice->cluster;
      }
      if (population.device(k).attacker) {
        malicious.push_back(k);
        malicious_at.push_back(i);
      } else {
        honest.push_back(k);
        honest_at.push_back(i);
        honest_cluster.push_back(cluster);
      }
    }
    std::vector<std::vector<float>> updates;
    TrainClients(c, heads, clients, honest, honest_cluster, r, updates);
    result.client_updates += static_cast<int64_t>(honest.size());
    // Uploads reach the engine in finishing order, at their virtual times.
    struct Pending {
      double secs;
      coordinator::Upload upload;
      bool attacker;
    };
    std::vector<Pending> uploads;
    std::vector<std::vector<float>> stacked(c.clusters);
    for (size_t j = 0; j < honest.size(); ++j) {
      if (updates[j].empty()) continue;
      const Finisher& f = finishers[honest_at[j]];
      stacked[honest_cluster[j]].insert(stacked[honest_cluster[j]].end(), updates[j].begin(),
                                        updates[j].end());
      coordinator::Upload u;
      u.round = f.round;
      u.token = f.token;
      u.cluster = honest_cluster[j];
      u.model_version = engine->models().at(u.cluster).version;
      u.example_count = static_cast<int64_t>(clients[f.client].labels.size());
      u.delta = std::move(updates[j]);
      uploads.push_back({f.secs, std::move(u), false});
    }
    for (size_t j = 0; j < malicious.size(); ++j) {
      // Attackers target cluster 0 with what they see of its honest updates.
      const int64_t n_honest = static_cast<int64_t>(stacked[0].size()) / dim;
      if (n_honest < 2) continue;
      absl::StatusOr<Eigen::VectorXf> bad = aggregation::CraftAttack(
          attack, aggregation::ConstRowMatrixMap(stacked[0].data(), n_honest, dim),
          Eigen::VectorXf::Zero(dim), attack_noise);
      if (!bad.ok()) continue;
      const Finisher& f = finishers[malicious_at[j]];
      coordinator::Upload u;
      u.round = f.round;
      u.token = f.token;
      u.model_version = engine->models().at(0).version;
      u.example_count = static_cast<int64_t>(clients[f.client].labels.size());
      u.delta.assign(bad->data(), bad->data() + dim);
      uploads.push_back({f.secs, std::move(u), true});
    }
    std::stable_sort(uploads.begin(), uploads.end(),
                     [](const Pending& x, const Pending& y) { return x.secs < y.secs; });
    double last_accepted_s = 0;
    for (const Pending& p : uploads) {
      if (engine->Accept(p.upload, epoch + absl::Seconds(now + p.secs)).ok()) {
        ++rec.reported;
        rec.attackers += p.attacker;
        last_accepted_s = p.secs;
      }
    }
    // The round closes when the goal is reached, or else at its deadline.
    const double close_s = rec.reported >= c.per_round ? last_accepted_s : c.deadline_s;
    std::optional<coordinator::ClosedRound> closed =
        engine->TakeClosedRound(epoch + absl::Seconds(now + close_s));
    if (closed) {
      rec.committed = closed->commit;
      engine->FinishRound(*closed, closed->commit);  // No store in the simulator.
      for (const auto& [k, m] : engine->models()) RETURN_IF_ERROR(heads[k].Unflatten(m.head));
    }
    now += close_s + c.gap_s;
    rec.virtual_time_s = now;
    rec.bytes_up = rec.reported * model_bytes;
    if (r % c.eval_every == 0 || r == c.rounds) {
      ASSIGN_OR_RETURN(client::Evaluation e,
                       EvaluateGroups(heads, test_f32, data.test.labels, c.cluster_groups,
                                      c.seed, &rec.group_accuracy));
      rec.evaluated = true;
      rec.accuracy = e.accuracy;
      rec.loss = e.loss;
    }
    rec.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.rounds.push_back(rec);
    if (on_round) on_round(rec);
  }
  result.fl_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.final_accuracy = result.rounds.back().accuracy;
  return result;
}

}  // namespace fedtiny::sim
