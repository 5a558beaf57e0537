// The simulator's command line. With no flags it runs the default experiment:
// 1,000 heterogeneous clients, 100 per round, Dirichlet(0.5), 50 rounds, 20%
// attackers sending -9 x the honest mean (FedAvg falls to chance), the
// recommended defence: nearest-neighbour mixing in front of the geometric
// median, with server momentum (docs/experiments.md). It prints a live line per
// round, then the final accuracy and the report's path.
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "google/protobuf/text_format.h"
#include "tools/base/atomic_file.h"
#include "tools/base/flags_help.h"
#include "tools/base/logging.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "sim/distribution.h"
#include "sim/experiment.h"
#include "sim/sim_main.h"
#include "coordinator/models/import_command.h"
#include "sim/fashion_mnist.h"
#include "sim/report.h"

ABSL_FLAG(std::string, name, "main", "Run name (also the output sub-folder).");
ABSL_FLAG(std::string, out, "out", "Folder for run outputs.");
ABSL_FLAG(std::string, data_dir, fedtiny::sim::kFashionMnistDir, "Fashion-MNIST IDX folder.");
ABSL_FLAG(int, rounds, 50, "Rounds.");
ABSL_FLAG(int, clients, 1000, "Virtual devices.");
ABSL_FLAG(int, per_round, 100, "Reports wanted per round.");
ABSL_FLAG(double, over_selection, 1.3, "Selected = per_round x this.");
ABSL_FLAG(int, epochs, 1, "Local epochs.");
ABSL_FLAG(int, batch, 10, "Local batch size.");
ABSL_FLAG(double, lr, 0.05, "Client learning rate.");
ABSL_FLAG(double, prox_mu, 0, "FedProx proximal term (0: off).");
ABSL_FLAG(std::string, partition, "dirichlet", "iid, dirichlet or shards.");
ABSL_FLAG(double, alpha, 0.5, "Dirichlet concentration.");
ABSL_FLAG(int, proxy, 6000, "Server proxy examples for pre-training the body.");
ABSL_FLAG(int, pretrain_epochs, 3, "Epochs of central pre-training.");
ABSL_FLAG(std::string, aggregator, "nnm:f=20+geometric_median",
          "Aggregator spec, e.g. fedavg, median, trimmed_mean:beta=0.2, krum:f=10.");
ABSL_FLAG(std::string, server_optimizer, "fedavgm:lr=1,beta1=0.5",
          "sgd, fedavgm, fedadam, fedyogi (:k=v,...).");
ABSL_FLAG(double, attackers, 0.2, "Fraction of malicious devices.");
ABSL_FLAG(std::string, attack, "sign_flip:tau=10",
          "Attack spec, e.g. sign_flip, sign_flip:tau=10, ipm:tau=1.1, alie (z_max), "
          "alie:tau=1.5, min_max, min_sum.");
ABSL_FLAG(bool, heterogeneous, true, "Device classes, availability windows, drop-outs.");
ABSL_FLAG(int, threads, 2, "Training threads.");
ABSL_FLAG(int64_t, seed, 1, "Seed of everything random.");
ABSL_FLAG(int, eval_every, 1, "Evaluate the test set every k rounds (and the last).");
ABSL_FLAG(bool, quiet, false, "No per-round lines.");
ABSL_FLAG(std::string, dataset, "fmnist", "fmnist, or synthetic (LEAF Synthetic(alpha, beta), lazy).");
ABSL_FLAG(double, synthetic_alpha, 1.0, "Synthetic: how much device models differ.");
ABSL_FLAG(double, synthetic_beta, 1.0, "Synthetic: how much device inputs differ.");
ABSL_FLAG(double, synthetic_size_sigma, 1.0,
          "Synthetic: examples per device ~ exp(N(4, sigma^2)) + offset (FedProx: 2).");
ABSL_FLAG(int64_t, synthetic_size_offset, 0, "Synthetic: added to each device's count (FedProx: 50).");
ABSL_FLAG(int64_t, synthetic_max_examples, 500, "Synthetic: examples per device at most.");
ABSL_FLAG(int64_t, synthetic_test_examples, 20,
          "Synthetic: held-out examples per evaluated device (0: a quarter of its own count).");
ABSL_FLAG(double, straggler_fraction, 0,
          "Per round, this fraction of the admitted devices stop after a random number of "
          "local steps in [1, epochs x batches) (FedProx's stragglers).");
ABSL_FLAG(bool, drop_stragglers, false, "Stragglers upload nothing (FedAvg as FedProx runs it).");
ABSL_FLAG(int, personalize_devices, 50,
          "Devices sampled at each evaluation for local vs personalized accuracy (0: off).");
ABSL_FLAG(double, personal_lr, 0.01, "Personal heads: fine-tuning learning rate.");
ABSL_FLAG(int, personal_epochs, 20, "Personal heads: at most this many epochs (early stopping).");
ABSL_FLAG(double, ditto_lambda, 0.1, "Personal heads: Ditto's proximal weight (0: Ditto off).");
ABSL_FLAG(int, personal_min_gain, 2,
          "Personal heads: net examples a personal head must win (cross-validated) to be kept.");
ABSL_FLAG(bool, personal_last_layer, true, "Personal heads: try fine-tuning the last layer alone.");
ABSL_FLAG(bool, compare, false,
          "After the run, FedAvg on the same devices under the same attack and without "
          "attackers: what the aggregator bought (tools/demo turns it on; ~2 s on the defaults).");
ABSL_FLAG(double, min_report_fraction, 0.5,
          "Fewer reports than this x per_round by the deadline: the round is abandoned.");
ABSL_FLAG(double, deadline_s, 900, "Round deadline, virtual seconds.");
ABSL_FLAG(double, momentum, 0, "Client momentum (the plan's).");
ABSL_FLAG(double, clip_norm, 0, "Clients clip their update to this L2 norm (0: off).");
ABSL_FLAG(std::string, task_config, "",
          "TaskConfig in text format (as `flctl task create --config` takes); replaces the "
          "task flags (rounds, per_round, over_selection, min_report_fraction, deadline_s, "
          "epochs, batch, lr, prox_mu, momentum, clip_norm, aggregator, server_optimizer, clusters, "
          "cluster_start).");
ABSL_FLAG(std::string, write_task_config, "",
          "Write the task as run (validated, with its model) in text format, for `flctl task create`.");
ABSL_FLAG(std::string, model, "",
          "An ONNX model to federate instead of the dense body pre-trained here (as `flctl "
          "models import` makes it: its body frozen, --head_layers dense layers federated from a "
          "fresh initialization; the int8 variant calibrated on the proxy split).");
ABSL_FLAG(int, head_layers, 2, "--model: its last N dense layers form the head.");
ABSL_FLAG(std::vector<std::string>, variant, {},
          "--model: body variants NAME=FILE.onnx:BELOW_RAM_BYTES, as flctl models import.");
ABSL_FLAG(std::string, compression, "",
          "TaskConfig.compression: devices upload compressed deltas, e.g. hadamard:bits=4,k=0.25 "
          "(docs/protocol.md, \"Compressed updates\"); empty: float32. Applies with --task_config too.");
ABSL_FLAG(int, clusters, 1, "Model heads the coordinator keeps; devices pick one (IFCA).");
ABSL_FLAG(std::string, cluster_start, "",
          "With --clusters > 1: kmeans (default: a warm-up round clusters the updates) or "
          "random (IFCA's plain start).");
ABSL_FLAG(int, cluster_groups, 1, "Data groups with permuted labels (cluster structure).");
ABSL_FLAG(int, async_concurrency, 0,
          "Asynchronous buffered rounds (FedBuff) with this many devices training at once "
          "(0: synchronous rounds).");
ABSL_FLAG(int, async_buffer, 10, "Asynchronous: updates per cluster per committed version (K).");
ABSL_FLAG(double, staleness_exponent, 0.5, "Asynchronous: weight (1 + staleness)^-a.");
ABSL_FLAG(int, max_staleness, 100, "Asynchronous: updates staler than this are refused.");
ABSL_FLAG(double, speed_sigma, 0,
          "Lognormal device speeds: each device's compute speed x exp(N(0, sigma^2)).");
ABSL_FLAG(double, target_accuracy, 0,
          "Report the virtual time and uploads until the test accuracy first reaches this.");
ABSL_FLAG(int, blas_threads, 0,
          "OpenBLAS threads for the coordinator's Gram products (NNM, Krum); 0: OpenBLAS's "
          "default (one per core). Their rounding, hence the committed models, depends on it: "
          "pin it (e.g. 1) to reproduce a run bit for bit on another machine or under mpirun.");
ABSL_FLAG(double, gap_s, 60, "Virtual seconds between synchronous rounds.");

extern "C" void openblas_set_num_threads(int);  // OpenBLAS's cblas.h.

namespace fedtiny::sim {

int SimMain(int argc, char** argv, Distribution* distribution) {
  // Only the leader (the one process without a distribution) talks and writes.
  const bool leader = distribution == nullptr || distribution->leader();
  absl::SetProgramUsageMessage("fedtiny simulator: federated training on Fashion-MNIST");
  fedtiny::ListEveryFlagInHelp();
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_blas_threads) > 0) openblas_set_num_threads(absl::GetFlag(FLAGS_blas_threads));
  // As in the coordinator's binary: absl::Mutex's deadlock detection (a debug
  // aid) is off for runs; tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // The coordinator inside logs every commit; the simulator prints its own line
  // per round, so only its warnings and errors show (FEDTINY_MIN_LOG_LEVEL=0: all).
  if (std::getenv("FEDTINY_MIN_LOG_LEVEL") == nullptr) {
    fedtiny::logging::SetMinSeverity(fedtiny::logging::Severity::kWarning);
  }
  fedtiny::sim::ExperimentConfig c;
  c.name = absl::GetFlag(FLAGS_name);
  fedtiny::v1::TaskConfig& t = c.task;
  if (!absl::GetFlag(FLAGS_task_config).empty()) {
    // The same file `flctl task create --config` takes; it replaces the task flags.
    std::ifstream in(absl::GetFlag(FLAGS_task_config));
    std::stringstream text;
    text << in.rdbuf();
    if (!in || !google::protobuf::TextFormat::ParseFromString(text.str(), &t)) {
      std::fprintf(stderr, "sim: cannot read a TaskConfig from %s\n",
                   absl::GetFlag(FLAGS_task_config).c_str());
      return 1;
    }
    t.clear_model();  // The experiment makes the model (pre-trained body, fresh head).
  } else {
    t.set_rounds(absl::GetFlag(FLAGS_rounds));
    t.set_clients_per_round(absl::GetFlag(FLAGS_per_round));
    t.set_over_selection(absl::GetFlag(FLAGS_over_selection));
    t.set_min_reports(std::max(1, static_cast<int>(std::ceil(
                                      absl::GetFlag(FLAGS_min_report_fraction) * t.clients_per_round()))));
    t.set_round_deadline_ms(static_cast<int64_t>(absl::GetFlag(FLAGS_deadline_s) * 1000));
    t.mutable_plan()->set_epochs(absl::GetFlag(FLAGS_epochs));
    t.mutable_plan()->set_batch_size(absl::GetFlag(FLAGS_batch));
    t.mutable_plan()->set_learning_rate(static_cast<float>(absl::GetFlag(FLAGS_lr)));
    t.mutable_plan()->set_proximal_mu(static_cast<float>(absl::GetFlag(FLAGS_prox_mu)));
    t.mutable_plan()->set_momentum(static_cast<float>(absl::GetFlag(FLAGS_momentum)));
    t.mutable_plan()->set_clip_norm(static_cast<float>(absl::GetFlag(FLAGS_clip_norm)));
    t.set_aggregator(absl::GetFlag(FLAGS_aggregator));
    t.set_server_optimizer(absl::GetFlag(FLAGS_server_optimizer));
    t.set_clusters(absl::GetFlag(FLAGS_clusters));
    if (absl::GetFlag(FLAGS_async_concurrency) > 0) {
      t.mutable_async()->set_concurrency(absl::GetFlag(FLAGS_async_concurrency));
      t.mutable_async()->set_buffer(absl::GetFlag(FLAGS_async_buffer));
      t.mutable_async()->set_staleness_exponent(absl::GetFlag(FLAGS_staleness_exponent));
      t.mutable_async()->set_max_staleness(absl::GetFlag(FLAGS_max_staleness));
    }
    t.set_cluster_start(absl::GetFlag(FLAGS_cluster_start));
  }
  if (!absl::GetFlag(FLAGS_compression).empty()) t.set_compression(absl::GetFlag(FLAGS_compression));
  c.clients = absl::GetFlag(FLAGS_clients);
  c.partition = absl::GetFlag(FLAGS_partition);
  c.alpha = absl::GetFlag(FLAGS_alpha);
  c.proxy = absl::GetFlag(FLAGS_proxy);
  c.pretrain_epochs = absl::GetFlag(FLAGS_pretrain_epochs);
  c.attacker_fraction = absl::GetFlag(FLAGS_attackers);
  c.attack = absl::GetFlag(FLAGS_attack);
  c.heterogeneous = absl::GetFlag(FLAGS_heterogeneous);
  c.threads = absl::GetFlag(FLAGS_threads);
  c.seed = static_cast<uint64_t>(absl::GetFlag(FLAGS_seed));
  c.eval_every = absl::GetFlag(FLAGS_eval_every);
  c.personalize_devices = absl::GetFlag(FLAGS_personalize_devices);
  c.compare_with_fedavg = absl::GetFlag(FLAGS_compare);
  c.personal_plan.learning_rate = static_cast<float>(absl::GetFlag(FLAGS_personal_lr));
  c.personal_plan.max_epochs = absl::GetFlag(FLAGS_personal_epochs);
  c.personal_plan.ditto_lambda = static_cast<float>(absl::GetFlag(FLAGS_ditto_lambda));
  c.personal_plan.last_layer = absl::GetFlag(FLAGS_personal_last_layer);
  c.personal_plan.min_gain_examples = absl::GetFlag(FLAGS_personal_min_gain);
  c.cluster_groups = absl::GetFlag(FLAGS_cluster_groups);
  c.speed_sigma = absl::GetFlag(FLAGS_speed_sigma);
  c.target_accuracy = absl::GetFlag(FLAGS_target_accuracy);
  c.gap_s = absl::GetFlag(FLAGS_gap_s);
  c.straggler_fraction = absl::GetFlag(FLAGS_straggler_fraction);
  c.drop_stragglers = absl::GetFlag(FLAGS_drop_stragglers);
  c.distribution = distribution;

  if (!absl::GetFlag(FLAGS_model).empty()) {
    // The import the operator runs (flctl models import), on the proxy split.
    fedtiny::coordinator::ImportArgs a;
    a.onnx_path = absl::GetFlag(FLAGS_model);
    a.head_layers = absl::GetFlag(FLAGS_head_layers);
    a.proxy_images = absl::StrCat(absl::GetFlag(FLAGS_data_dir), "/train-images-idx3-ubyte.gz");
    a.proxy_labels = absl::StrCat(absl::GetFlag(FLAGS_data_dir), "/train-labels-idx1-ubyte.gz");
    a.proxy_count = c.proxy;
    a.variants = absl::GetFlag(FLAGS_variant);
    absl::StatusOr<fedtiny::coordinator::ImportResult> imported = fedtiny::coordinator::RunImport(a);
    if (!imported.ok()) {
      std::fprintf(stderr, "sim: %s\n", imported.status().ToString().c_str());
      return 1;
    }
    std::fprintf(stderr, "imported %s:\n%s", a.onnx_path.c_str(),
                 fedtiny::coordinator::FormatReport(imported->report).c_str());
    c.initial_model = imported->model;
    for (const auto& [name, v] : imported->variants.body_variants()) {
      (*t.mutable_body_variants())[name] = v;
    }
  }
  const bool synthetic = absl::GetFlag(FLAGS_dataset) == "synthetic";
  if (!synthetic && absl::GetFlag(FLAGS_dataset) != "fmnist") {
    std::fprintf(stderr, "sim: --dataset must be fmnist or synthetic\n");
    return 1;
  }
  absl::StatusOr<fedtiny::sim::FashionMnist> data;
  if (!synthetic) {
    if (leader) {
      std::fprintf(stderr, "loading Fashion-MNIST from %s\n", absl::GetFlag(FLAGS_data_dir).c_str());
    }
    data = fedtiny::sim::LoadFashionMnist(absl::GetFlag(FLAGS_data_dir));
    if (!data.ok()) {
      std::fprintf(stderr, "sim: %s\n", data.status().ToString().c_str());
      return 1;
    }
  }
  if (leader) std::fprintf(stderr,
               "%s: %d clients (%s), %d per round, %d rounds, aggregator %s, %.0f%% %s attackers\n",
               c.name.c_str(), c.clients, c.heterogeneous ? "heterogeneous" : "homogeneous",
               t.clients_per_round(), t.rounds(), t.aggregator().c_str(), 100 * c.attacker_fraction,
               c.attack.c_str());
  const bool quiet = absl::GetFlag(FLAGS_quiet);
  auto print = [quiet](const fedtiny::sim::RoundRecord& rec) {
    if (!quiet) std::printf("%s\n", fedtiny::sim::RoundLine(rec).c_str());
    std::fflush(stdout);
  };
  fedtiny::sim::SyntheticOptions so;
  so.clients = c.clients;
  so.alpha = absl::GetFlag(FLAGS_synthetic_alpha);
  so.beta = absl::GetFlag(FLAGS_synthetic_beta);
  so.size_sigma = absl::GetFlag(FLAGS_synthetic_size_sigma);
  so.size_offset = absl::GetFlag(FLAGS_synthetic_size_offset);
  so.max_examples = absl::GetFlag(FLAGS_synthetic_max_examples);
  so.test_examples = absl::GetFlag(FLAGS_synthetic_test_examples);
  so.seed = c.seed;
  absl::StatusOr<fedtiny::sim::ExperimentResult> r =
      synthetic ? fedtiny::sim::RunSyntheticExperiment(c, so, print)
                : fedtiny::sim::RunExperiment(c, *data, print);
  if (!r.ok()) {
    std::fprintf(stderr, "sim: %s\n", r.status().ToString().c_str());
    return 1;
  }
  if (!leader) return 0;  // The leader writes and prints the outputs.
  if (!absl::GetFlag(FLAGS_write_task_config).empty()) {
    std::string text;
    google::protobuf::TextFormat::PrintToString(r->config.task, &text);
    absl::Status w = fedtiny::WriteFileAtomically(absl::GetFlag(FLAGS_write_task_config), text);
    if (!w.ok()) {
      std::fprintf(stderr, "sim: %s\n", w.ToString().c_str());
      return 1;
    }
  }
  const std::string dir = absl::StrCat(absl::GetFlag(FLAGS_out), "/", c.name);
  absl::Status written = fedtiny::sim::WriteRunFiles(dir, *r);
  if (!written.ok()) {
    std::fprintf(stderr, "sim: %s\n", written.ToString().c_str());
    return 1;
  }
  if (!synthetic && absl::GetFlag(FLAGS_model).empty()) {
    std::printf("pre-trained body + head accuracy: %.2f%%\n", 100 * r->pretrain_accuracy);
  }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  std::printf("peak memory: %.0f MB; mean wall time per round: %.3f s\n",
              usage.ru_maxrss / 1024.0, r->fl_seconds / static_cast<double>(r->rounds.size()));
  if (r->rounds.back().personalized_accuracy > 0) {
    const fedtiny::sim::RoundRecord& last = r->rounds.back();
    std::printf("on devices' own held-out data: global head %.2f%%, personal head %.2f%% "
                "(%d devices kept: global %d, last layer %d, Ditto %d)\n",
                100 * last.local_accuracy, 100 * last.personalized_accuracy,
                last.personal_devices, last.personal_kept_global, last.personal_last_layer,
                last.personal_ditto);
  }
  std::printf("final test accuracy: %.2f%% after %d rounds (%lld client updates in %.1f s, "
              "%.0f updates/s)\n",
              100 * r->final_accuracy, static_cast<int>(r->rounds.size()),
              static_cast<long long>(r->client_updates),
              r->fl_seconds, r->client_updates / r->fl_seconds);
  for (const fedtiny::sim::ComparisonRun& cmp : r->comparisons) {
    std::printf("compare: %-22s final test accuracy %.2f%% (%s, server %s, %.0f%% attackers)\n",
                cmp.label.c_str(), 100 * cmp.final_accuracy, cmp.aggregator.c_str(),
                c.task.server_optimizer().c_str(), 100 * cmp.attacker_fraction);
  }
  for (const auto& [name, v] : r->variants) {
    std::printf("variant %-8s bundle %7lld bytes, body %8lld multiply-adds/example, "
                "test accuracy %.2f%%\n",
                name.c_str(), static_cast<long long>(v.bundle_bytes),
                static_cast<long long>(v.body_multiply_adds), 100 * v.final_accuracy);
  }
  if (c.target_accuracy > 0) {
    const fedtiny::sim::TargetReached t = fedtiny::sim::TimeToTarget(*r, c.target_accuracy);
    std::printf("target %.2f%%: %s\n", 100 * c.target_accuracy,
                t.round < 0 ? "not reached"
                            : absl::StrCat("round ", t.round, ", ", t.virtual_time_s,
                                           " virtual s, ", t.uploads, " uploads").c_str());
  }
  for (const auto& [cluster, sha] : r->model_sha256) {
    std::printf("committed model sha256: cluster %d %s\n", cluster, sha.c_str());
  }
  std::printf("report: %s/report.html\n", dir.c_str());
  std::printf("%s", fedtiny::sim::SummaryJson(*r).c_str());
  return 0;
}

}  // namespace fedtiny::sim
