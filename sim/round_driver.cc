#include "sim/round_driver.h"


#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <random>

#include "absl/strings/str_cat.h"
#include "aggregation/attacks.h"
#include "aggregation/factory.h"
#include "sim/async_driver.h"
#include "sim/device_round.h"
#include "sim/distribution.h"
#include "tools/base/sha256.h"
#include "client/core/round.h"
#include "coordinator/memory_store.h"
#include "proto/upload_delta.h"
#include "tools/base/status_macros.h"

namespace fedtiny::sim {

namespace {

using client::Head;

absl::Status RunHere(const ExperimentConfig& config, const ClientDataSource& data,
                     const Population& population, const EvaluateFn& evaluate,
                     ExperimentResult& result,
                     const std::function<void(const RoundRecord&)>& on_round);

}  // namespace

absl::Status RunRounds(const ExperimentConfig& c, const ClientDataSource& data,
                       const Population& population, Federation& fed,
                       coordinator::FakeClock& clock, const EvaluateFn& evaluate,
                       ExperimentResult& result,
                       const std::function<void(const RoundRecord&)>& on_round) {
  if (!(c.straggler_fraction >= 0 && c.straggler_fraction <= 1)) {
    return absl::InvalidArgumentError("experiment: straggler_fraction must be in [0, 1]");
  }
  const v1::TaskConfig& task = c.task;
  const double deadline_s = task.round_deadline_ms() / 1000.0;
  const int goal = task.clients_per_round();
  // A bare "alie" takes z_max for the round as the attackers expect it: the
  // goal's reports, the attacker fraction of them malicious.
  ASSIGN_OR_RETURN(aggregation::AttackConfig parsed, aggregation::ParseAttack(c.attack));
  ASSIGN_OR_RETURN(const aggregation::AttackConfig attack,
                   aggregation::ForRound(parsed, goal,
                                         static_cast<int>(std::lround(c.attacker_fraction * goal))));
  aggregation::SeededRandomSource attack_noise(c.seed ^ 0xA77AC4ull);
  std::mt19937_64 rng(c.seed ^ 0x5E1EC7ull);
  std::uniform_real_distribution<double> unit(0, 1);
  const absl::Time origin = clock.Now();
  auto set_time = [&](double t) {
    const absl::Duration d = origin + absl::Seconds(t) - clock.Now();
    if (d > absl::ZeroDuration()) clock.Advance(d);
  };
  ASSIGN_OR_RETURN(result.aggregator_name, AggregatorNameOf(task.aggregator()));
  BundleHeads bundles;
  std::mt19937_64 straggle_rng(c.seed ^ 0x57A661E5ull);  // Its own stream: other runs unchanged.
  int committed = 0;
  const auto start = std::chrono::steady_clock::now();
  double now = 0;
  for (int r = 1; committed < task.rounds() && r <= 3 * task.rounds(); ++r) {
    RoundRecord rec;
    rec.round = r;
    set_time(now);
    // Selection: candidates check in until the coordinator's round is full.
    const int want = static_cast<int>(std::ceil(goal * task.over_selection()));
    std::vector<SimDevice> admitted;
    for (int k : Candidates(data, population, now, want, rng)) {
      if (static_cast<int>(admitted.size()) >= want) break;
      ASSIGN_OR_RETURN(v1::CheckInResponse resp, fed.CheckIn(CheckInRequestFor(c, population, k)));
      if (!resp.has_assignment()) continue;
      SimDevice dev;
      dev.id = k;
      dev.assignment = resp.assignment();
      ASSIGN_OR_RETURN(dev.heads, bundles.For(fed, dev.assignment));
      admitted.push_back(std::move(dev));
    }
    rec.selected = static_cast<int>(admitted.size());
    if (c.straggler_fraction > 0) MarkStragglers(c.straggler_fraction, straggle_rng, admitted);
    // Who finishes, and when (virtual time).
    std::vector<SimDevice*> finishers;
    for (SimDevice& dev : admitted) {
      rec.bytes_down += TimeDevice(c, data, population, dev, result);
      const bool interrupted = c.heterogeneous && (unit(rng) < population.class_of(dev.id).dropout ||
                                                   !population.Available(dev.id, now + dev.secs));
      if (interrupted) {
        ++rec.dropped;
      } else if (dev.secs > deadline_s) {
        ++rec.stragglers;
      } else {
        finishers.push_back(&dev);
      }
    }
    std::stable_sort(finishers.begin(), finishers.end(),
                     [](const SimDevice* x, const SimDevice* y) { return x->secs < y->secs; });
    // Devices train and upload in finishing order, in chunks of what the round
    // still needs: once the coordinator closes the round (goal reached), the
    // rest would only be refused as late, so they are not trained.
    std::vector<float> cluster0;  // Honest cluster-0 updates so far (attackers see them).
    double last_accepted_s = 0;
    bool closed = false;
    size_t next = 0;
    while (!closed && next < finishers.size()) {
      const size_t need = static_cast<size_t>(std::max(1, goal - rec.reported));
      std::vector<SimDevice*> chunk(finishers.begin() + next,
                                 finishers.begin() + std::min(finishers.size(), next + need));
      next += chunk.size();
      std::vector<SimDevice*> honest;
      for (SimDevice* d : chunk) {
        if (c.drop_stragglers && d->straggler) {
          ++rec.stragglers;  // Dropped: neither trained nor uploaded.
          continue;
        }
        if (!population.device(d->id).attacker) honest.push_back(d);
      }
      RETURN_IF_ERROR(TrainDevices(c, data, honest));
      result.client_updates += static_cast<int64_t>(honest.size());
      // Attackers see the honest cluster-0 updates so far (kept only when some
      // attacker will use them).
      if (c.attacker_fraction > 0) {
        for (SimDevice* d : honest) {
          if (d->update.ok() && d->update->cluster == 0) {
            cluster0.insert(cluster0.end(), d->update->delta.begin(), d->update->delta.end());
          }
        }
      }
      for (SimDevice* d : chunk) {
        if (c.drop_stragglers && d->straggler) continue;
        const bool attacker = population.device(d->id).attacker;
        v1::UploadRequest up;
        if (attacker) {
          const int64_t dim = (*d->heads)[0].num_params();
          const int64_t n_honest = static_cast<int64_t>(cluster0.size()) / dim;
          if (n_honest < 2) continue;
          absl::StatusOr<Eigen::VectorXf> bad = aggregation::CraftAttack(
              attack, aggregation::ConstRowMatrixMap(cluster0.data(), n_honest, dim),
              Eigen::VectorXf::Zero(dim), attack_noise);
          if (!bad.ok()) continue;
          // Attackers claim a typical example count.
          up = UploadOf(c, *d, 0, data.NumExamples(d->id), absl::MakeConstSpan(bad->data(), dim), {});
        } else {
          if (!d->update.ok()) continue;  // Training failed: nothing to upload.
          up = std::move(d->upload);
        }
        set_time(now + d->secs);
        rec.bytes_up += UploadDeltaBytes(up);
        const absl::Status s = fed.Upload(up);
        if (s.ok()) {
          ++rec.reported;
          rec.attackers += attacker;
          last_accepted_s = d->secs;
        } else {
          ++rec.rejected;
          if (s.code() == absl::StatusCode::kDeadlineExceeded) closed = true;
        }
      }
      if (rec.reported >= goal) closed = true;
    }
    rec.stragglers += static_cast<int>(finishers.size() - next);  // Past the goal.
    // The round closes when the goal is reached, or else at its deadline.
    double close_s = last_accepted_s;
    if (!admitted.empty() && rec.reported < goal) {
      close_s = deadline_s;
      set_time(now + deadline_s);
      fed.Tick();
    }
    if (!admitted.empty()) {
      ASSIGN_OR_RETURN(v1::RoundInfo info, fed.GetRound(task.name(), admitted[0].assignment.round()));
      rec.committed = info.state() == v1::COMMITTED;
    } else {
      close_s = deadline_s;  // Nobody could come: the coordinator waits.
    }
    committed += rec.committed;
    now += close_s + c.gap_s;
    rec.virtual_time_s = now;
    if (r % c.eval_every == 0 || committed >= task.rounds()) {
      ASSIGN_OR_RETURN(std::vector<Head> heads, CurrentHeads(fed, task.name()));
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
  if (result.rounds.empty()) return absl::InternalError("no round ran");
  if (!result.rounds.back().evaluated) {
    return absl::InternalError("the last round was not evaluated");
  }
  result.final_accuracy = result.rounds.back().accuracy;
  return RecordModelHashes(fed, task.name(), result);
}

absl::Status RecordModelHashes(Federation& fed, const std::string& task, ExperimentResult& result) {
  ASSIGN_OR_RETURN(const auto models, fed.CurrentModels(task));
  result.model_sha256.clear();
  for (const auto& [cluster, bytes] : models) {
    ASSIGN_OR_RETURN(const Sha256Digest digest, Sha256(bytes));
    result.model_sha256[cluster] = DigestToHex(digest);
  }
  return absl::OkStatus();
}

absl::Status RunInProcess(const ExperimentConfig& config, const ClientDataSource& data,
                          const Population& population, const EvaluateFn& evaluate,
                          ExperimentResult& result,
                          const std::function<void(const RoundRecord&)>& on_round) {
  Distribution* const dist = config.distribution;
  if (dist == nullptr) return RunHere(config, data, population, evaluate, result, on_round);
  if (!dist->leader()) {
    // The task as the leader's coordinator validates it (defaults filled):
    // devices train with its plan.
    ExperimentConfig c = config;
    ASSIGN_OR_RETURN(c.task, coordinator::ValidateTaskConfig(config.task));
    return dist->Serve(c, data);
  }
  const absl::Status run = RunHere(config, data, population, evaluate, result, on_round);
  const absl::Status end = dist->EndRun();
  return run.ok() ? end : run;
}

namespace {

absl::Status RunHere(const ExperimentConfig& config, const ClientDataSource& data,
                     const Population& population, const EvaluateFn& evaluate,
                     ExperimentResult& result,
                     const std::function<void(const RoundRecord&)>& on_round) {
  coordinator::FakeClock clock(kSimEpoch);
  aggregation::SeededRandomSource tokens(config.seed ^ 0x70CE75ull);
  ASSIGN_OR_RETURN(std::unique_ptr<coordinator::Coordinator> coord,
                   coordinator::Coordinator::Create(std::make_unique<coordinator::MemoryStore>(),
                                                    &clock, &tokens));
  ASSIGN_OR_RETURN(v1::TaskInfo info, coord->CreateTask(config.task));
  ExperimentConfig c = config;
  c.task = info.config();  // As validated, defaults filled.
  InProcessFederation fed(coord.get());
  if (c.task.has_async()) {
    RETURN_IF_ERROR(RunAsyncRounds(c, data, population, fed, clock, evaluate, result, on_round));
    return RecordModelHashes(fed, c.task.name(), result);
  }
  return RunRounds(c, data, population, fed, clock, evaluate, result, on_round);
}

}  // namespace

}  // namespace fedtiny::sim
