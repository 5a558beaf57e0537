// What one simulated device does in a round, shared by the synchronous round
// driver (sim/round_driver.cc) and the asynchronous one (sim/async_driver.cc):
// check in, download and decode its bundles, time its round on the virtual
// clock, train (client::RunRound on HeadTrainers) and build its upload.
#ifndef FEDTINY_SIM_DEVICE_ROUND_H_
#define FEDTINY_SIM_DEVICE_ROUND_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "client/core/model.h"
#include "client/core/round.h"
#include "proto/federation.pb.h"
#include "sim/client_data.h"
#include "sim/experiment_types.h"
#include "sim/federation.h"
#include "sim/population.h"

namespace fedtiny::sim {

// Evaluates the current heads; fills per-group accuracies when it has groups.
using EvaluateFn = std::function<absl::StatusOr<client::Evaluation>(
    const std::vector<client::Head>& heads, std::vector<double>* group_accuracy)>;

// The device secret of virtual device `k` (16..64 bytes, stable per seed).
std::string SimDeviceSecret(uint64_t seed, int64_t k);

// Devices that may check in now, in random order: every available device with
// data (small populations), or a random sample of `want` x 4 (large ones).
std::vector<int> Candidates(const ClientDataSource& data, const Population& population,
                            double now, int want, std::mt19937_64& rng);

// Decoded heads of the bundles devices were assigned, by bundle hash: every
// device given the same bundles gets the same bytes, so the simulator downloads
// and decodes each bundle once (the bytes still go through the coordinator's
// Download, are checked against the announced hash, and count in every
// device's traffic). Not thread-safe.
class BundleHeads {
 public:
  // The heads of an assignment's bundles, shared by every device assigned the
  // same bundles (no copy per device).
  absl::StatusOr<std::shared_ptr<const std::vector<client::Head>>> For(Federation& fed,
                                                                       const v1::Assignment& a);

 private:
  static absl::StatusOr<client::Head> Fetch(Federation& fed, const v1::Assignment& a,
                                            const v1::ModelBundle& b);
  std::map<std::string, std::shared_ptr<const std::vector<client::Head>>> cache_;
};

// The task's newest heads, decoded.
absl::StatusOr<std::vector<client::Head>> CurrentHeads(Federation& fed, const std::string& task);

// Local vs personalized accuracy on c.personalize_devices sampled devices: each
// device's examples split 80/20; the head its data picks is scored on the 20%,
// then a copy fine-tuned on the 80% (one epoch, the round's plan) is scored on
// the same 20%.
void Personalize(const ExperimentConfig& c, const std::vector<client::Head>& heads,
                 const ClientDataSource& data, int round, RoundRecord& rec);

// One admitted device.
struct SimDevice {
  int id = 0;
  v1::Assignment assignment;
  std::shared_ptr<const std::vector<client::Head>> heads;  // Decoded from its bundles.
  double secs = 0;  // Virtual seconds from check-in to upload.
  bool straggler = false;      // ExperimentConfig::straggler_fraction.
  uint64_t straggle_draw = 0;  // Picks its step budget in TrainAll.
  absl::StatusOr<client::DeviceUpdate> update = absl::UnknownError("not trained");
  v1::UploadRequest upload;  // Built by the worker that trained it.
};

// The display name of an aggregator spec (kInvalidArgument for a bad spec).
absl::StatusOr<std::string> AggregatorNameOf(const std::string& spec);

// Device `k`'s check-in (its class's capabilities; always eligible: the
// population decides availability).
v1::CheckInRequest CheckInRequestFor(const ExperimentConfig& c, const Population& population,
                                     int k);

// Sets dev.secs (download, bundle verification and decryption, training,
// upload) and adds the crypto cost to `result`; returns the bytes downloaded.
int64_t TimeDevice(const ExperimentConfig& c, const ClientDataSource& data,
                   const Population& population, SimDevice& dev, ExperimentResult& result);

v1::UploadRequest UploadOf(const ExperimentConfig& c, const SimDevice& dev, int cluster,
                           int64_t examples, absl::Span<const float> delta,
                           const std::vector<std::pair<std::string, double>>& metrics);

// The honest devices' rounds, on c.threads threads: client::RunRound with a
// HeadTrainer per thread, reused across devices; each worker also encodes its
// devices' uploads (dev.upload, when dev.update is ok). Blocks.
void TrainAll(const ExperimentConfig& c, const ClientDataSource& data,
              std::vector<SimDevice*>& devices);

// Marks round(fraction x admitted) of the admitted devices, chosen at random,
// as stragglers (as FedProx's reference code picks them among the selected).
void MarkStragglers(double fraction, std::mt19937_64& rng, std::vector<SimDevice>& admitted);

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_DEVICE_ROUND_H_
