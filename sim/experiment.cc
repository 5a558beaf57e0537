#include "sim/experiment.h"

#include <algorithm>
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

// Trains the clients listed in `ids` in parallel; updates[k] = trained - global.
void TrainClients(const ExperimentConfig& c, const Head& global,
                  const std::vector<ClientData>& clients, const std::vector<int>& ids,
                  int round, std::vector<std::vector<float>>& updates) {
  const std::vector<float> base = global.Flatten();
  updates.assign(ids.size(), {});
  std::atomic<size_t> next{0};
  auto worker = [&] {
    client::TrainPlan plan{c.epochs, c.batch, c.lr, 0.f, c.prox_mu, 0};
    auto trainer = *client::HeadTrainer::Create(global, plan);
    for (size_t k = next++; k < ids.size(); k = next++) {
      Head local = global;
      client::TrainState state;
      // Per client and round, so runs repeat whatever the thread interleaving.
      trainer->set_seed(c.seed * 1000003ull + static_cast<uint64_t>(round) * 7919ull + ids[k]);
      const ClientData& d = clients[ids[k]];
      if (!trainer->Train(local, d.features, d.labels, [] { return true; }, state).ok()) continue;
      std::vector<float> u = local.Flatten();
      for (size_t i = 0; i < u.size(); ++i) u[i] -= base[i];
      updates[k] = std::move(u);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < c.threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
}

}  // namespace

absl::StatusOr<ExperimentResult> RunExperiment(
    const ExperimentConfig& c, const FashionMnist& data,
    const std::function<void(const RoundRecord&)>& on_round) {
  RETURN_IF_ERROR(Validate(c, data));
  ASSIGN_OR_RETURN(aggregation::AggregatorFactory make_aggregator,
                   aggregation::ParseAggregatorSpec(c.aggregator));
  ASSIGN_OR_RETURN(aggregation::ServerOptimizerConfig opt_config,
                   aggregation::ParseServerOptimizer(c.server_optimizer));
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
  std::vector<ClientData> clients(c.clients);
  for (int k = 0; k < c.clients; ++k) {
    const RowMatrixXf& src = population.class_of(k).int8_body && c.heterogeneous ? train_i8 : train_f32;
    clients[k].features.resize(parts[k].size(), 128);
    for (size_t i = 0; i < parts[k].size(); ++i) {
      const int64_t row = parts[k][i] + c.proxy;
      clients[k].features.row(i) = src.row(row);
      clients[k].labels.push_back(data.train.labels[row]);
    }
  }

  Head global = client::MakeHead({128, 64, 10}, c.seed + 1);
  const int64_t dim = global.num_params();
  const int64_t model_bytes = dim * static_cast<int64_t>(sizeof(float));
  aggregation::ServerOptimizer optimizer(opt_config, dim);
  result.aggregator_name = make_aggregator(dim)->Name();
  aggregation::SeededRandomSource attack_noise(c.seed ^ 0xA77AC4ull);

  const auto start = std::chrono::steady_clock::now();
  double now = 0;
  std::uniform_real_distribution<double> unit(0, 1);
  for (int r = 1; r <= c.rounds; ++r) {
    RoundRecord rec;
    rec.round = r;
    // Selection: eligible devices, over-selected to absorb drop-outs.
    std::vector<int> eligible;
    for (int k = 0; k < c.clients; ++k)
      if (population.Available(k, now) && !clients[k].labels.empty()) eligible.push_back(k);
    std::shuffle(eligible.begin(), eligible.end(), rng);
    const int want = static_cast<int>(std::ceil(c.per_round * c.over_selection));
    eligible.resize(std::min<size_t>(eligible.size(), want));
    rec.selected = static_cast<int>(eligible.size());
    // Who finishes, and when (virtual time).
    std::vector<std::pair<double, int>> finishers;
    for (int k : eligible) {
      const double flops = 6.0 * dim * clients[k].labels.size() * c.epochs;
      const double secs = population.RoundSeconds(k, model_bytes, model_bytes, flops);
      rec.bytes_down += model_bytes;
      const bool interrupted = c.heterogeneous && (unit(rng) < population.class_of(k).dropout ||
                                                   !population.Available(k, now + secs));
      if (interrupted) {
        ++rec.dropped;
      } else if (secs > c.deadline_s) {
        ++rec.stragglers;
      } else {
        finishers.emplace_back(secs, k);
      }
    }
    std::sort(finishers.begin(), finishers.end());
    if (static_cast<int>(finishers.size()) > c.per_round) {
      rec.stragglers += static_cast<int>(finishers.size()) - c.per_round;  // Past the goal.
      finishers.resize(c.per_round);
    }
    const bool goal_met = static_cast<int>(finishers.size()) == c.per_round;
    now += (goal_met ? finishers.back().first : c.deadline_s) + c.gap_s;
    rec.virtual_time_s = now;
    rec.reported = static_cast<int>(finishers.size());
    rec.bytes_up = rec.reported * model_bytes;

    if (rec.reported >= std::max(1.0, c.min_report_fraction * c.per_round)) {
      std::vector<int> honest, malicious;
      for (const auto& [secs, k] : finishers)
        (population.device(k).attacker ? malicious : honest).push_back(k);
      std::vector<std::vector<float>> updates;
      TrainClients(c, global, clients, honest, r, updates);
      result.client_updates += static_cast<int64_t>(honest.size());
      std::unique_ptr<aggregation::Aggregator> agg = make_aggregator(dim);
      std::vector<float> stacked;
      for (size_t i = 0; i < honest.size(); ++i) {
        if (updates[i].empty()) continue;
        stacked.insert(stacked.end(), updates[i].begin(), updates[i].end());
        (void)agg->Accumulate(updates[i], static_cast<double>(clients[honest[i]].labels.size()),
                              {absl::StrCat(honest[i]), 0});
      }
      const int64_t n_honest = static_cast<int64_t>(stacked.size()) / dim;
      if (!malicious.empty() && n_honest >= 2) {
        const aggregation::ConstRowMatrixMap honest_map(stacked.data(), n_honest, dim);
        for (int k : malicious) {
          absl::StatusOr<Eigen::VectorXf> bad = aggregation::CraftAttack(
              attack, honest_map, Eigen::VectorXf::Zero(dim), attack_noise);
          if (!bad.ok()) continue;
          // Attackers claim a typical example count.
          if (agg->Accumulate(absl::Span<const float>(bad->data(), dim),
                              static_cast<double>(clients[k].labels.size()), {}).ok()) {
            ++rec.attackers;
          }
        }
      }
      if (agg->CanReport()) {
        absl::StatusOr<Eigen::VectorXf> delta = agg->Report();
        std::vector<float> flat = global.Flatten();
        Eigen::VectorXf weights = Eigen::Map<Eigen::VectorXf>(flat.data(), dim);
        if (delta.ok() && optimizer.Apply(*delta, weights).ok()) {
          RETURN_IF_ERROR(global.Unflatten(absl::Span<const float>(weights.data(), dim)));
          rec.committed = true;
        }
      }
    }
    if (r % c.eval_every == 0 || r == c.rounds) {
      ASSIGN_OR_RETURN(client::Evaluation e,
                       client::Evaluate(global, test_f32, data.test.labels));
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
