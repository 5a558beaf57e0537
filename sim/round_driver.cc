#include "sim/round_driver.h"

#include "sim/bundle_crypto_cost.h"
#include "client/platform/linux/status_bridge.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <thread>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "aggregation/attacks.h"
#include "aggregation/factory.h"
#include "client/core/head_trainer.h"
#include "client/core/personalization.h"
#include "client/core/round.h"
#include "client/transport/limits.h"
#include "coordinator/memory_store.h"
#include "client/transport/model_proto.h"
#include "proto/delta_codec.h"
#include "tools/base/sha256.h"
#include "tools/base/status_macros.h"

namespace fedtiny::sim {

namespace {

using client::Head;

// Above this many devices, selection samples devices instead of scanning all.
constexpr int64_t kScanLimit = 100000;
constexpr int64_t kChunkBytes = 4 << 20;

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

// Decoded heads of the bundles devices were assigned, by bundle hash: every
// device of a round gets the same bytes, so the simulator downloads and decodes
// each bundle once (the bytes still go through the coordinator's Download, are
// checked against the announced hash, and count in every device's traffic).
class BundleHeads {
 public:
  // The heads of an assignment's bundles, shared by every device assigned the
  // same bundles (no copy per device).
  absl::StatusOr<std::shared_ptr<const std::vector<Head>>> For(Federation& fed,
                                                               const v1::Assignment& a) {
    std::string key;
    for (const v1::ModelBundle& b : a.bundles()) key += b.sha256();
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    auto heads = std::make_shared<std::vector<Head>>();
    for (const v1::ModelBundle& b : a.bundles()) {
      ASSIGN_OR_RETURN(Head h, Fetch(fed, a, b));
      heads->push_back(std::move(h));
    }
    if (cache_.size() > 16) cache_.clear();
    cache_.emplace(key, heads);
    return std::shared_ptr<const std::vector<Head>>(std::move(heads));
  }

 private:
  static absl::StatusOr<Head> Fetch(Federation& fed, const v1::Assignment& a,
                                    const v1::ModelBundle& b) {
    std::string bytes;
    while (static_cast<int64_t>(bytes.size()) < b.size_bytes()) {
      v1::DownloadRequest r;
      r.set_task(a.task());
      r.set_round(a.round());
      r.set_upload_token(a.upload_token());
      r.set_cluster(b.cluster());
      r.set_variant(b.variant());
      r.set_offset(static_cast<int64_t>(bytes.size()));
      r.set_max_bytes(kChunkBytes);
      ASSIGN_OR_RETURN(v1::DownloadResponse d, fed.Download(r));
      if (d.data().empty()) return absl::DataLossError("download: empty chunk");
      bytes += d.data();
    }
    ASSIGN_OR_RETURN(Sha256Digest digest, Sha256(bytes));
    if (std::string(reinterpret_cast<const char*>(digest.data()), digest.size()) != b.sha256()) {
      return absl::DataLossError("download: bundle does not match its hash");
    }
    v1::Model m;
    if (!m.ParseFromString(bytes)) return absl::DataLossError("download: bundle is not a Model");
    return client::HeadFromProto(m);
  }

  std::map<std::string, std::shared_ptr<const std::vector<Head>>> cache_;
};

absl::StatusOr<std::vector<Head>> CurrentHeads(Federation& fed, const std::string& task) {
  ASSIGN_OR_RETURN(auto models, fed.CurrentModels(task));
  std::vector<Head> heads;
  for (const auto& [cluster, bytes] : models) {
    v1::Model m;
    if (!m.ParseFromString(bytes)) return absl::DataLossError("current model unreadable");
    ASSIGN_OR_RETURN(Head h, client::HeadFromProto(m));
    heads.push_back(std::move(h));
  }
  return heads;
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
  const v1::Plan& plan = c.task.plan();
  ClientData scratch;
  for (int tries = 0; counted < c.personalize_devices && tries < 20 * c.personalize_devices; ++tries) {
    const int64_t k = pick(rng);
    if (data.NumExamples(k) < 10) continue;
    const ClientData& d = data.View(k, "float32", scratch);
    const int64_t n = static_cast<int64_t>(d.labels.size()), cut = n * 4 / 5;
    const client::RowMatrixXf train_x = d.features.topRows(cut), test_x = d.features.bottomRows(n - cut);
    const absl::Span<const int32_t> train_y(d.labels.data(), cut), test_y(d.labels.data() + cut, n - cut);
    auto choice = client::PickCluster(heads, train_x, train_y);
    if (!choice.ok()) continue;
    const Head& global = heads[choice->cluster];
    auto mine = client::FineTunePersonalHead(
        global, train_x, train_y,
        client::TrainPlan{1, plan.batch_size(), plan.learning_rate(), 0.f, 0.f, static_cast<uint64_t>(k)});
    auto g = client::Evaluate(global, test_x, test_y);
    if (!mine.ok() || !g.ok()) continue;
    auto p = client::Evaluate(*mine, test_x, test_y);
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

// One admitted device of the round.
struct SimDevice {
  int id = 0;
  v1::Assignment assignment;
  std::shared_ptr<const std::vector<Head>> heads;  // Decoded from its bundles.
  double secs = 0;          // Virtual seconds from check-in to upload.
  bool straggler = false;   // ExperimentConfig::straggler_fraction.
  uint64_t straggle_draw = 0;  // Picks its step budget in TrainAll.
  absl::StatusOr<client::DeviceUpdate> update = absl::UnknownError("not trained");
  v1::UploadRequest upload;  // Built by the worker that trained it.
};

v1::UploadRequest UploadOf(const ExperimentConfig& c, const SimDevice& dev, int cluster,
                           int64_t examples, absl::Span<const float> delta,
                           const std::vector<std::pair<std::string, double>>& metrics) {
  v1::UploadRequest u;
  u.set_task(dev.assignment.task());
  u.set_round(dev.assignment.round());
  u.set_upload_token(dev.assignment.upload_token());
  u.set_device_secret(SimDeviceSecret(c.seed, dev.id));
  u.set_cluster(cluster);
  u.set_model_version(dev.assignment.bundles(cluster).version());
  u.set_example_count(examples);
  u.set_delta(EncodeDelta(delta));
  for (const auto& [name, value] : metrics) (*u.mutable_metrics())[name] = value;
  return u;
}

// The honest devices' rounds, on `threads` threads: client::RunRound with a
// HeadTrainer per thread, reused across devices; each worker also encodes its
// devices' uploads.
void TrainAll(const ExperimentConfig& c, const ClientDataSource& data, std::vector<SimDevice*>& devices) {
  const v1::Plan& plan = c.task.plan();
  std::atomic<size_t> next{0};
  auto worker = [&] {
    std::unique_ptr<client::HeadTrainer> trainer;
    ClientData scratch;
    for (size_t i = next++; i < devices.size(); i = next++) {
      SimDevice& dev = *devices[i];
      const ClientData& d = data.View(dev.id, dev.assignment.bundles(0).variant(), scratch);
      const client::TrainPlan p = client::TrainPlanOf(plan, absl::StrCat(dev.id),
                                                      dev.assignment.round(),
                                                      static_cast<int64_t>(d.labels.size()));
      if (trainer == nullptr) {
        client::TrainPlan full = p;
        full.batch_size = plan.batch_size();
        auto t =
            client::HeadTrainer::Create((*dev.heads)[0], full);
        if (!t.ok()) {
          dev.update = client::ToAbsl(t.status());
          continue;
        }
        trainer = *std::move(t);
      }
      // A batch larger than the data trains as one batch of all of it, so the
      // trainer sized for the plan's batch serves every device.
      trainer->set_seed(p.seed);
      // A straggler is stopped, as a device whose time runs out, after a
      // uniformly random number of steps in [1, epochs x batches); its partial
      // work is its update. Others may always continue.
      const int64_t batches = (static_cast<int64_t>(d.labels.size()) + p.batch_size - 1) / p.batch_size;
      const int64_t steps = static_cast<int64_t>(p.epochs) * batches;
      const int64_t budget =
          dev.straggler && steps > 1 ? 1 + static_cast<int64_t>(dev.straggle_draw % (steps - 1)) : -1;
      dev.update = client::ToAbsl(client::RunRound(
          *dev.heads, d.features, d.labels, plan.clip_norm(),
          [&](int, Head& head) -> client::StatusOr<client::LocalTraining> {
            client::TrainState state;
            int64_t taken = 0;
            CLIENT_ASSIGN_OR_RETURN(
                client::TrainResult r,
                trainer->Train(head, d.features, d.labels,
                               [&] { return budget < 0 || taken++ < budget; }, state));
            return client::LocalTraining{true, "", r};
          }));
      if (dev.update.ok()) {
        dev.upload = UploadOf(c, dev, dev.update->cluster, dev.update->example_count,
                              dev.update->delta, dev.update->metrics);
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < c.threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
}


// Marks round(fraction x admitted) of the admitted devices, chosen at random,
// as stragglers (as FedProx's reference code picks them among the selected).
void MarkStragglers(double fraction, std::mt19937_64& rng, std::vector<SimDevice>& admitted) {
  std::vector<size_t> order(admitted.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  const size_t n = static_cast<size_t>(std::lround(std::clamp(fraction, 0.0, 1.0) * admitted.size()));
  for (size_t i = 0; i < n; ++i) {
    admitted[order[i]].straggler = true;
    admitted[order[i]].straggle_draw = rng();
  }
}

}  // namespace

std::string SimDeviceSecret(uint64_t seed, int64_t k) {
  return absl::StrCat("sim-", seed, "-device-", k, "-secret");
}

absl::Status RunRounds(const ExperimentConfig& c, const ClientDataSource& data,
                       const Population& population, Federation& fed,
                       coordinator::FakeClock& clock, const EvaluateFn& evaluate,
                       ExperimentResult& result,
                       const std::function<void(const RoundRecord&)>& on_round) {
  ASSIGN_OR_RETURN(aggregation::AttackConfig attack, aggregation::ParseAttack(c.attack));
  if (!(c.straggler_fraction >= 0 && c.straggler_fraction <= 1)) {
    return absl::InvalidArgumentError("experiment: straggler_fraction must be in [0, 1]");
  }
  const v1::TaskConfig& task = c.task;
  const double deadline_s = task.round_deadline_ms() / 1000.0;
  const int goal = task.clients_per_round();
  aggregation::SeededRandomSource attack_noise(c.seed ^ 0xA77AC4ull);
  std::mt19937_64 rng(c.seed ^ 0x5E1EC7ull);
  std::uniform_real_distribution<double> unit(0, 1);
  const absl::Time origin = clock.Now();
  auto set_time = [&](double t) {
    const absl::Duration d = origin + absl::Seconds(t) - clock.Now();
    if (d > absl::ZeroDuration()) clock.Advance(d);
  };
  {
    aggregation::SeededRandomSource unused(0);  // Only the name is read.
    ASSIGN_OR_RETURN(std::unique_ptr<aggregation::Aggregator> agg,
                     aggregation::MakeAggregator(task.aggregator(), 1, {&unused}));
    result.aggregator_name = agg->Name();
  }
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
      const DeviceClass& cls = population.class_of(k);
      v1::CheckInRequest req;
      req.set_device_id(absl::StrCat(k));
      req.set_device_secret(SimDeviceSecret(c.seed, k));
      req.set_population(task.population());
      req.set_device_class(cls.name);
      req.mutable_capabilities()->set_ram_bytes(cls.ram_bytes);
      req.mutable_capabilities()->set_has_fpu(cls.has_fpu);
      req.mutable_capabilities()->set_supports_int8(true);
      req.mutable_state()->set_charging(true);  // The population decided availability.
      req.mutable_state()->set_idle(true);
      req.mutable_state()->set_unmetered_network(true);
      req.mutable_state()->set_battery_percent(100);
      ASSIGN_OR_RETURN(v1::CheckInResponse resp, fed.CheckIn(req));
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
      int64_t down = 0;
      for (const v1::ModelBundle& b : dev.assignment.bundles()) down += b.size_bytes();
      // Modelled as encrypted bundles (sim/bundle_crypto_cost.h), whether or
      // not the in-process coordinator encrypts, as the networked fleet's are
      // by default: the device's round takes that much longer.
      const DeviceClass& cls = population.class_of(dev.id);
      const BundleCryptoCost crypto = CostOf(cls, down, dev.assignment.bundles_size());
      result.bundle_crypto[cls.name].Add(crypto);
      const int64_t up = static_cast<int64_t>((*dev.heads)[0].num_params() * sizeof(float));
      // Training the head (forward and backward, per epoch), after one
      // forward of the variant's body over the device's examples.
      const double examples = static_cast<double>(data.NumExamples(dev.id));
      const double flops =
          6.0 * static_cast<double>((*dev.heads)[0].num_params()) * examples * task.plan().epochs() +
          2.0 * data.BodyMultiplyAdds(dev.assignment.bundles(0).variant()) * examples;
      dev.secs = population.RoundSeconds(dev.id, down, up, flops) + crypto.verify_s +
                 crypto.decrypt_s;
      rec.bytes_down += down;
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
      TrainAll(c, data, honest);
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
        rec.bytes_up += static_cast<int64_t>(up.delta().size());
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
  return absl::OkStatus();
}

absl::Status RunInProcess(const ExperimentConfig& config, const ClientDataSource& data,
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
  return RunRounds(c, data, population, fed, clock, evaluate, result, on_round);
}

}  // namespace fedtiny::sim
