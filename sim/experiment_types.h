// The configuration and results of a simulated federated experiment.
#ifndef FEDTINY_SIM_EXPERIMENT_TYPES_H_
#define FEDTINY_SIM_EXPERIMENT_TYPES_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "client/core/personalization.h"
#include "proto/admin.pb.h"

namespace fedtiny::sim {

// The task part of an experiment: what the coordinator runs. Defaults: 50
// rounds of 100 reports (over-selection 1.3, a 900 s
// virtual deadline), plan 1 epoch x batch 10 x lr 0.05, FedAvg with plain SGD,
// one head, no eligibility rule (the population decides who is available), the
// int8 variant for devices under 2 MiB of RAM or without an FPU. The model is
// filled in by the experiment (pre-trained body, fresh head); min_reports is
// left to the validator (half of clients_per_round).
v1::TaskConfig DefaultExperimentTask();

class Distribution;  // sim/distribution.h

struct ExperimentConfig {
  std::string name = "experiment";  // Run name; the task's name is derived from it when unset.
  // Exactly what `flctl task create` takes: one validator (the coordinator's) serves both.
  v1::TaskConfig task = DefaultExperimentTask();
  int clients = 1000;
  double gap_s = 60;                 // Virtual seconds between rounds.
  std::string partition = "dirichlet";
  double alpha = 0.5;
  int proxy = 6000;
  int pretrain_epochs = 3;
  // A model brought by the operator (e.g. imported from ONNX, tools/onnx):
  // when it has a head, its body is the frozen body instead of the dense one
  // pre-trained here, and its head's shape (freshly initialized with the
  // run's seed, as the dense workload's, so that rounds compare fairly) is
  // what federates. The task's body_variants may add variants of that body.
  v1::Model initial_model;
  double attacker_fraction = 0;
  std::string attack = "sign_flip";
  bool heterogeneous = true;  // Device classes, windows, drop-outs, int8 variants.
  int threads = 2;
  int cluster_groups = 1;  // Data groups with permuted labels (cluster structure).
  int eval_every = 1;      // Evaluate the test set every k rounds (and the last).
  // Devices sampled at each evaluation for local/personalized accuracy (0: off).
  int personalize_devices = 0;
  // After the run, the same devices and data again with FedAvg under the same
  // attack and with FedAvg and no attackers (the clean reference): what the
  // defence bought, in one run (ExperimentResult::comparisons).
  bool compare_with_fedavg = false;
  // How those devices personalize (client::PersonalizeHead; seed per device).
  client::PersonalizationPlan personal_plan;
  // FedProx's straggler model (Li et al. 2020): in every round this fraction of
  // the admitted devices (rounded, chosen at random) are stragglers that stop
  // after a uniformly random number of local steps in [1, epochs x batches),
  // as the paper's reference code does. They upload that partial work
  // (FedProx), or, with drop_stragglers, nothing at all (FedAvg as the paper runs it).
  double straggler_fraction = 0;
  bool drop_stragglers = false;
  uint64_t seed = 1;
  // Not owned; null: devices train in this process. Otherwise the run is
  // spread over processes (sim/distribution.h, e.g. MPI ranks).
  Distribution* distribution = nullptr;
  // Lognormal device speeds: compute speed x exp(N(0, speed_sigma^2)) per device.
  double speed_sigma = 0;
  // Reported: virtual time and uploads until the test accuracy first reaches it (0: off).
  double target_accuracy = 0;
};

// What verifying and decrypting encrypted bundles cost virtual devices
// (sim/bundle_crypto_cost.h: modelled, not measured). Summed per device class.
struct BundleCryptoCost {
  int64_t downloads = 0;  // Devices that fetched their assignment's bundles.
  int64_t verified_bytes = 0;
  int64_t decrypted_bytes = 0;
  double verify_s = 0;    // SHA-256 against the signed targets.
  double decrypt_s = 0;   // Unwrapping the model keys and AES-256-GCM.

  void Add(const BundleCryptoCost& o) {
    downloads += o.downloads;
    verified_bytes += o.verified_bytes;
    decrypted_bytes += o.decrypted_bytes;
    verify_s += o.verify_s;
    decrypt_s += o.decrypt_s;
  }
};

struct RoundRecord {
  int round = 0;
  double virtual_time_s = 0;  // When the round closed.
  int selected = 0;
  int reported = 0;
  int rejected = 0;           // Uploads the coordinator refused (malformed, late, ...).
  int dropped = 0;
  int stragglers = 0;
  int attackers = 0;          // Malicious updates among those aggregated.
  bool committed = false;     // false: too few reports, abandoned.
  bool evaluated = false;     // Whether accuracy/loss were measured this round.
  std::vector<double> group_accuracy;  // Per data group, with the head it picks.
  // On sampled devices' own held-out examples (when personalize_devices > 0):
  double local_accuracy = 0;         // The global head the device picks.
  double personalized_accuracy = 0;  // The device's personal head (PersonalizeHead).
  int personal_devices = 0;          // Devices scored; which head each kept:
  int personal_kept_global = 0, personal_last_layer = 0, personal_ditto = 0;
  double accuracy = 0;        // Test accuracy of the global model after the round.
  double loss = 0;
  int64_t bytes_down = 0;
  int64_t bytes_up = 0;
  double wall_s = 0;          // Wall time since federation started.
  // Uploads the devices sent during the round (accepted or refused).
  int64_t uploads() const { return reported + rejected; }
};

// One model variant of the experiment's task (float32, int8, body variants).
struct VariantReport {
  int64_t body_multiply_adds = 0;  // Per example.
  int64_t bundle_bytes = 0;        // The variant's model as devices download it.
  double final_accuracy = 0;       // Test accuracy through this body, final heads.
};

// A reference run beside the experiment (compare_with_fedavg).
struct ComparisonRun {
  std::string label;       // e.g. "fedavg, same attack".
  std::string aggregator;
  double attacker_fraction = 0;
  double final_accuracy = 0;
};

struct ExperimentResult {
  ExperimentConfig config;
  std::string aggregator_name;
  double pretrain_accuracy = 0;  // Body + pre-trained head on the test set.
  std::vector<RoundRecord> rounds;
  double final_accuracy = 0;
  // Synthetic data with at most 1,000 devices: the final head's loss over every
  // device's training examples (the FedProx paper's "training loss"); -1 otherwise.
  double final_train_loss = -1;
  double fl_seconds = 0;         // Wall time of the federated rounds alone.
  int64_t client_updates = 0;    // Client trainings performed.
  // Per device class, over every round: bundles_crypto.csv.
  std::map<std::string, BundleCryptoCost> bundle_crypto;
  std::map<std::string, VariantReport> variants;  // By variant name.
  // The committed model of each cluster at the end, SHA-256 of its serialized
  // v1::Model (float32): equal hashes, bit-identical models.
  std::map<int, std::string> model_sha256;
  std::vector<ComparisonRun> comparisons;          // When compare_with_fedavg.
};

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_EXPERIMENT_TYPES_H_
