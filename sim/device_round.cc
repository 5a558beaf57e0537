#include "sim/device_round.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <random>
#include <thread>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "aggregation/factory.h"
#include "client/core/head_trainer.h"
#include "client/core/personalization.h"
#include "client/core/round.h"
#include "client/platform/linux/status_bridge.h"
#include "client/transport/limits.h"
#include "client/transport/model_proto.h"
#include "proto/upload_delta.h"
#include "tools/base/update_codec.h"
#include "sim/bundle_crypto_cost.h"
#include "tools/base/sha256.h"
#include "tools/base/status_macros.h"

namespace fedtiny::sim {

namespace {
using client::Head;
constexpr int64_t kChunkBytes = 4 << 20;
// Above this many devices, selection samples devices instead of scanning all.
constexpr int64_t kScanLimit = 100000;
}  // namespace

std::string SimDeviceSecret(uint64_t seed, int64_t k) {
  return absl::StrCat("sim-", seed, "-device-", k, "-secret");
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

absl::StatusOr<std::shared_ptr<const std::vector<Head>>> BundleHeads::For(
    Federation& fed, const v1::Assignment& a) {
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

absl::StatusOr<Head> BundleHeads::Fetch(Federation& fed, const v1::Assignment& a,
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
// examples split 80/20; the head its data picks is scored on the 20%, then the
// device's personal head (client::PersonalizeHead on the 80%: last-layer
// fine-tuning and Ditto with early stopping on a validation part of the 80%,
// the global head kept when neither wins there) is scored on the same 20%.
void Personalize(const ExperimentConfig& c, const std::vector<Head>& heads,
                 const ClientDataSource& data, int round, RoundRecord& rec) {
  std::mt19937_64 rng(c.seed * 7 + static_cast<uint64_t>(round));
  std::uniform_int_distribution<int64_t> pick(0, data.num_clients() - 1);
  double local = 0, personal = 0;
  int counted = 0;
  std::array<int, 3> chosen{};
  ClientData scratch;
  for (int tries = 0; counted < c.personalize_devices && tries < 20 * c.personalize_devices; ++tries) {
    const int64_t k = pick(rng);
    if (data.NumExamples(k) < 10) continue;
    const ClientData& d = data.View(k, "float32", scratch);
    // A random 80/20 split: partitions list a device's examples class by
    // class, so the last rows would over-represent its last class.
    const int64_t n = static_cast<int64_t>(d.labels.size()), cut = n * 4 / 5;
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
    std::shuffle(order.begin(), order.end(), rng);
    client::RowMatrixXf train_x(cut, d.features.cols()), test_x(n - cut, d.features.cols());
    std::vector<int32_t> train_y, test_y;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t from = order[static_cast<size_t>(i)];
      (i < cut ? train_x.row(i) : test_x.row(i - cut)) = d.features.row(from);
      (i < cut ? train_y : test_y).push_back(d.labels[static_cast<size_t>(from)]);
    }
    auto choice = client::PickCluster(heads, train_x, train_y);
    if (!choice.ok()) continue;
    const Head& global = heads[choice->cluster];
    client::PersonalizationPlan plan = c.personal_plan;
    plan.seed = static_cast<uint64_t>(k) * 1000003u + static_cast<uint64_t>(round);
    auto mine = client::PersonalizeHead(global, train_x, train_y, plan);
    auto g = client::Evaluate(global, test_x, test_y);
    if (!mine.ok() || !g.ok()) continue;
    auto p = client::Evaluate(mine->head, test_x, test_y);
    if (!p.ok()) continue;
    local += g->accuracy;
    personal += p->accuracy;
    ++chosen[static_cast<size_t>(mine->method)];
    ++counted;
  }
  if (counted > 0) {
    rec.local_accuracy = local / counted;
    rec.personalized_accuracy = personal / counted;
    rec.personal_devices = counted;
    rec.personal_kept_global = chosen[0];
    rec.personal_last_layer = chosen[1];
    rec.personal_ditto = chosen[2];
  }
}

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
  // The task's compression (sim --compression) as a device would: the noise
  // differs per experiment seed, device and round.
  SetUploadDelta(dev.assignment, delta,
                 CompressionSeed("sim-noise", dev.assignment.round(), absl::StrCat(c.seed, "/", dev.id)), u);
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



absl::StatusOr<std::string> AggregatorNameOf(const std::string& spec) {
  aggregation::SeededRandomSource unused(0);  // Only the name is read.
  ASSIGN_OR_RETURN(std::unique_ptr<aggregation::Aggregator> agg,
                   aggregation::MakeAggregator(spec, 1, {&unused}));
  return agg->Name();
}

v1::CheckInRequest CheckInRequestFor(const ExperimentConfig& c, const Population& population,
                                     int k) {
  const DeviceClass& cls = population.class_of(k);
  v1::CheckInRequest req;
  req.set_device_id(absl::StrCat(k));
  req.set_device_secret(SimDeviceSecret(c.seed, k));
  req.set_population(c.task.population());
  req.set_device_class(cls.name);
  req.mutable_capabilities()->set_ram_bytes(cls.ram_bytes);
  req.mutable_capabilities()->set_has_fpu(cls.has_fpu);
  req.mutable_capabilities()->set_supports_int8(true);
  req.mutable_state()->set_charging(true);  // The population decided availability.
  req.mutable_state()->set_idle(true);
  req.mutable_state()->set_unmetered_network(true);
  req.mutable_state()->set_battery_percent(100);
  return req;
}

int64_t TimeDevice(const ExperimentConfig& c, const ClientDataSource& data,
                   const Population& population, SimDevice& dev, ExperimentResult& result) {
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
      6.0 * static_cast<double>((*dev.heads)[0].num_params()) * examples * c.task.plan().epochs() +
      2.0 * data.BodyMultiplyAdds(dev.assignment.bundles(0).variant()) * examples;
  dev.secs = population.RoundSeconds(dev.id, down, up, flops) + crypto.verify_s + crypto.decrypt_s;
  return down;
}

}  // namespace fedtiny::sim
