#include "sim/round_driver.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <thread>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "aggregation/attacks.h"
#include "aggregation/factory.h"
#include "client/core/head_trainer.h"
#include "client/core/personalization.h"
#include "coordinator/round_engine.h"
#include "tools/base/status_macros.h"

namespace fedtiny::sim {

namespace {

using client::Head;

// Above this many devices, selection samples devices instead of scanning all.
constexpr int64_t kScanLimit = 100000;

struct Trained {
  int cluster = 0;
  int64_t examples = 0;
  std::vector<float> update;  // Empty if training failed.
};

// Each device fetches its data, picks the head with the lowest local loss (IFCA)
// and trains it; out[k].update = trained - picked head.
void TrainClients(const ExperimentConfig& c, const std::vector<Head>& heads,
                  const ClientDataSource& data, const std::vector<int>& ids, int round,
                  std::vector<Trained>& out) {
  out.assign(ids.size(), {});
  std::atomic<size_t> next{0};
  auto worker = [&] {
    client::TrainPlan plan{c.epochs, c.batch, c.lr, 0.f, c.prox_mu, 0};
    auto trainer = *client::HeadTrainer::Create(heads[0], plan);
    for (size_t k = next++; k < ids.size(); k = next++) {
      const ClientData d = data.Get(ids[k]);
      Trained& t = out[k];
      t.examples = static_cast<int64_t>(d.labels.size());
      if (heads.size() > 1) {
        absl::StatusOr<client::ClusterChoice> choice = client::PickCluster(heads, d.features, d.labels);
        if (choice.ok()) t.cluster = choice->cluster;
      }
      const Head& start = heads[t.cluster];
      Head local = start;
      client::TrainState state;
      // Per device and round, so runs repeat whatever the thread interleaving.
      trainer->set_seed(c.seed * 1000003ull + static_cast<uint64_t>(round) * 7919ull + ids[k]);
      if (!trainer->Train(local, d.features, d.labels, [] { return true; }, state).ok()) continue;
      t.update = local.Flatten();
      const std::vector<float> base = start.Flatten();
      for (size_t i = 0; i < base.size(); ++i) t.update[i] -= base[i];
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < c.threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
}

// Devices that may check in now, in random order: every available device with
// data (small populations), or a random sample of `want` x 4 (large ones).
std::vector<int> Candidates(const ClientDataSource& data, const Population& population,
                            double now, int want, std::mt19937_64& rng) {
  std::vector<int> out;
  const int64_t n = data.num_clients();
  if (n <= kScanLimit) {
    for (int k = 0; k < n; ++k)
      if (population.Available(k, now) && data.NumExamples(k) > 0) out.push_back(k);
    std::shuffle(out.begin(), out.end(), rng);
    return out;
  }
  std::unordered_set<int> seen;
  std::uniform_int_distribution<int64_t> pick(0, n - 1);
  for (int64_t tries = 0; tries < 40LL * want && static_cast<int>(out.size()) < 4 * want; ++tries) {
    const int k = static_cast<int>(pick(rng));
    if (!seen.insert(k).second) continue;
    if (population.Available(k, now) && data.NumExamples(k) > 0) out.push_back(k);
  }
  return out;
}

// Local vs personalized accuracy on `devices` sampled devices: each device's
// examples split 80/20; the head its data picks is scored on the 20%, then a copy
// fine-tuned on the 80% (one epoch, the round's plan) is scored on the same 20%.
void Personalize(const ExperimentConfig& c, const std::vector<Head>& heads,
                 const ClientDataSource& data, int round, RoundRecord& rec) {
  std::mt19937_64 rng(c.seed * 7 + static_cast<uint64_t>(round));
  std::uniform_int_distribution<int64_t> pick(0, data.num_clients() - 1);
  double local = 0, personal = 0;
  int counted = 0;
  for (int tries = 0; counted < c.personalize_devices && tries < 20 * c.personalize_devices; ++tries) {
    const int64_t k = pick(rng);
    if (data.NumExamples(k) < 10) continue;
    const ClientData d = data.Get(k);
    const int64_t n = static_cast<int64_t>(d.labels.size()), cut = n * 4 / 5;
    const client::RowMatrixXf train_x = d.features.topRows(cut), test_x = d.features.bottomRows(n - cut);
    const absl::Span<const int32_t> train_y(d.labels.data(), cut), test_y(d.labels.data() + cut, n - cut);
    absl::StatusOr<client::ClusterChoice> choice = client::PickCluster(heads, train_x, train_y);
    if (!choice.ok()) continue;
    const Head& global = heads[choice->cluster];
    absl::StatusOr<Head> mine = client::FineTunePersonalHead(
        global, train_x, train_y, client::TrainPlan{1, c.batch, c.lr, 0.f, 0.f, static_cast<uint64_t>(k)});
    absl::StatusOr<client::Evaluation> g = client::Evaluate(global, test_x, test_y);
    if (!mine.ok() || !g.ok()) continue;
    absl::StatusOr<client::Evaluation> p = client::Evaluate(*mine, test_x, test_y);
    if (!p.ok()) continue;
    local += g->accuracy;
    personal += p->accuracy;
    ++counted;
  }
  if (counted > 0) {
    rec.local_accuracy = local / counted;
    rec.personalized_accuracy = personal / counted;
  }
}

}  // namespace

absl::Status RunRounds(const ExperimentConfig& c, const ClientDataSource& data,
                       const Population& population, std::vector<Head> heads,
                       const EvaluateFn& evaluate, ExperimentResult& result,
                       const std::function<void(const RoundRecord&)>& on_round) {
  ASSIGN_OR_RETURN(aggregation::AttackConfig attack, aggregation::ParseAttack(c.attack));
  aggregation::SeededRandomSource tokens(c.seed ^ 0x70CE75ull);
  ASSIGN_OR_RETURN(aggregation::AggregatorFactory make_aggregator,
                   aggregation::ParseAggregatorSpec(c.aggregator, {&tokens}));
  std::map<int, coordinator::ClusterModel> models;
  for (size_t k = 0; k < heads.size(); ++k) {
    models[static_cast<int>(k)] = coordinator::ClusterModel{heads[k].Flatten(), 0, ""};
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
  ec.clusters = static_cast<int>(heads.size());
  ec.dim = dim;
  ec.aggregator = c.aggregator;
  ec.server_optimizer = c.server_optimizer;
  ec.eligibility = coordinator::Eligibility{false, false, false, 0};  // The population decides.
  ASSIGN_OR_RETURN(std::unique_ptr<coordinator::RoundEngine> engine,
                   coordinator::RoundEngine::Create(ec, models, 1, 0, &tokens));
  result.aggregator_name = make_aggregator(dim)->Name();
  aggregation::SeededRandomSource attack_noise(c.seed ^ 0xA77AC4ull);
  const absl::Time epoch = absl::UnixEpoch();
  std::mt19937_64 rng(c.seed ^ 0x5E1EC7ull);
  std::uniform_real_distribution<double> unit(0, 1);

  const auto start = std::chrono::steady_clock::now();
  double now = 0;
  for (int r = 1; r <= c.rounds; ++r) {
    RoundRecord rec;
    rec.round = r;
    // Selection: candidates check in until the engine's round is full.
    const int want = static_cast<int>(std::ceil(c.per_round * c.over_selection));
    std::vector<std::pair<int, coordinator::Admitted>> admitted;
    for (int k : Candidates(data, population, now, want, rng)) {
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
      const double flops = 6.0 * dim * data.NumExamples(k) * c.epochs;
      const double secs = population.RoundSeconds(k, model_bytes * ec.clusters, model_bytes, flops);
      rec.bytes_down += model_bytes * ec.clusters;
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
    std::vector<int> honest;
    std::vector<size_t> honest_at, malicious_at;
    for (size_t i = 0; i < finishers.size(); ++i) {
      if (population.device(finishers[i].client).attacker) {
        malicious_at.push_back(i);
      } else {
        honest.push_back(finishers[i].client);
        honest_at.push_back(i);
      }
    }
    std::vector<Trained> trained;
    TrainClients(c, heads, data, honest, r, trained);
    result.client_updates += static_cast<int64_t>(honest.size());
    // Uploads reach the engine in finishing order, at their virtual times.
    struct Pending {
      double secs;
      coordinator::Upload upload;
      bool attacker;
    };
    std::vector<Pending> uploads;
    std::vector<float> cluster0;  // Honest updates attackers see (cluster 0).
    for (size_t j = 0; j < honest.size(); ++j) {
      Trained& t = trained[j];
      if (t.update.empty()) continue;
      const Finisher& f = finishers[honest_at[j]];
      if (t.cluster == 0) cluster0.insert(cluster0.end(), t.update.begin(), t.update.end());
      coordinator::Upload u;
      u.round = f.round;
      u.token = f.token;
      u.cluster = t.cluster;
      u.model_version = engine->models().at(t.cluster).version;
      u.example_count = t.examples;
      u.delta = std::move(t.update);
      uploads.push_back({f.secs, std::move(u), false});
    }
    const int64_t n_honest = static_cast<int64_t>(cluster0.size()) / dim;
    for (size_t i : malicious_at) {
      if (n_honest < 2) break;
      absl::StatusOr<Eigen::VectorXf> bad = aggregation::CraftAttack(
          attack, aggregation::ConstRowMatrixMap(cluster0.data(), n_honest, dim),
          Eigen::VectorXf::Zero(dim), attack_noise);
      if (!bad.ok()) continue;
      const Finisher& f = finishers[i];
      coordinator::Upload u;
      u.round = f.round;
      u.token = f.token;
      u.model_version = engine->models().at(0).version;
      u.example_count = data.NumExamples(f.client);  // Attackers claim a typical count.
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
      ASSIGN_OR_RETURN(client::Evaluation e, evaluate(heads, &rec.group_accuracy));
      rec.evaluated = true;
      rec.accuracy = e.accuracy;
      rec.loss = e.loss;
      if (c.personalize_devices > 0) Personalize(c, heads, data, r, rec);
    }
    rec.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.rounds.push_back(rec);
    if (on_round) on_round(rec);
  }
  result.fl_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.final_accuracy = result.rounds.back().accuracy;
  return absl::OkStatus();
}

}  // namespace fedtiny::sim
