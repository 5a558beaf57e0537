// The configuration and results of a simulated federated experiment.
#ifndef FEDTINY_SIM_EXPERIMENT_TYPES_H_
#define FEDTINY_SIM_EXPERIMENT_TYPES_H_

#include <cstdint>
#include <string>
#include <vector>

namespace fedtiny::sim {

struct ExperimentConfig {
  std::string name = "experiment";
  int rounds = 50;
  int clients = 1000;
  int per_round = 100;
  double over_selection = 1.3;
  double min_report_fraction = 0.5;  // Fewer reports than this x per_round: abandoned.
  double deadline_s = 900;           // Virtual seconds per round.
  double gap_s = 60;                 // Virtual seconds between rounds.
  int epochs = 1;
  int batch = 10;
  float lr = 0.05f;
  float prox_mu = 0;
  std::string partition = "dirichlet";
  double alpha = 0.5;
  int proxy = 6000;
  int pretrain_epochs = 3;
  std::string aggregator = "fedavg";
  std::string server_optimizer = "sgd";
  double attacker_fraction = 0;
  std::string attack = "sign_flip";
  bool heterogeneous = true;  // Device classes, windows, drop-outs, int8 bodies.
  int threads = 2;
  int clusters = 1;        // Heads the coordinator keeps (devices pick one: IFCA).
  int cluster_groups = 1;  // Data groups with permuted labels (cluster structure).
  int eval_every = 1;
  // Devices sampled at each evaluation for local/personalized accuracy (0: off).
  int personalize_devices = 0;  // Evaluate the test set every k rounds (and the last).
  uint64_t seed = 1;
};

struct RoundRecord {
  int round = 0;
  double virtual_time_s = 0;  // When the round closed.
  int selected = 0;
  int reported = 0;
  int dropped = 0;
  int stragglers = 0;
  int attackers = 0;          // Malicious updates among those aggregated.
  bool committed = false;     // false: too few reports, abandoned.
  bool evaluated = false;     // Whether accuracy/loss were measured this round.
  std::vector<double> group_accuracy;  // Per data group, with the head it picks.
  // On sampled devices' own held-out examples (when personalize_devices > 0):
  double local_accuracy = 0;         // The global head the device picks.
  double personalized_accuracy = 0;  // That head fine-tuned on the device's data.
  double accuracy = 0;        // Test accuracy of the global model after the round.
  double loss = 0;
  int64_t bytes_down = 0;
  int64_t bytes_up = 0;
  double wall_s = 0;          // Wall time since federation started.
};

struct ExperimentResult {
  ExperimentConfig config;
  std::string aggregator_name;
  double pretrain_accuracy = 0;  // Body + pre-trained head on the test set.
  std::vector<RoundRecord> rounds;
  double final_accuracy = 0;
  double fl_seconds = 0;         // Wall time of the federated rounds alone.
  int64_t client_updates = 0;    // Client trainings performed.
};

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_EXPERIMENT_TYPES_H_
