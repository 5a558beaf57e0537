#include "sim/telemetry/model_author.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "client/core/head_trainer.h"
#include "client/platform/linux/status_bridge.h"
#include "client/telemetry/spec.h"
#include "tools/base/status_macros.h"

namespace fedtiny::sim::telemetry {
namespace {

using client::Body;
using client::DenseForward;
using client::DenseLayer;
using client::Head;
using client::RowMatrixXf;
using fedtiny::telemetry::Binning;
using fedtiny::telemetry::TelemetryProbe;
using fedtiny::telemetry::TelemetrySpec;

// Trains 784-128-64-10 as one network with the client's trainer.
absl::StatusOr<Head> TrainNetwork(const FashionMnist& data,
                                  const AuthorOptions& o) {
  Head full = client::MakeHead({784, 128, 64, 10}, o.seed);
  ASSIGN_OR_RETURN(auto trainer,
                   client::ToAbsl(client::HeadTrainer::Create(
                       full, {o.epochs, 32, 0.1f, 0, 0, o.seed})));
  const RowMatrixXf x = data.train.images.topRows(o.train_examples);
  client::TrainState state;
  RETURN_IF_ERROR(client::ToAbsl(trainer
                                     ->Train(
                                         full, x,
                                         absl::MakeConstSpan(data.train.labels)
                                             .subspan(0, o.train_examples),
                                         [] { return true; }, state)
                                     .status()));
  return full;
}

std::vector<double> Histogram(const std::vector<int>& bins, int k) {
  std::vector<double> f(k, 0);
  for (int b : bins) f[b] += 1.0 / bins.size();
  return f;
}

TelemetryProbe ClassProbe(const Head& head, const RowMatrixXf& features,
                          double epsilon) {
  RowMatrixXf logits = features;
  for (const DenseLayer& l : head.layers) logits = DenseForward(l, logits);
  std::vector<int> classes(logits.rows());
  for (int64_t i = 0; i < logits.rows(); ++i)
    logits.row(i).maxCoeff(&classes[i]);
  TelemetryProbe p;
  p.set_name("class");
  p.set_kind(fedtiny::telemetry::PREDICTED_CLASS);
  p.mutable_binning()->set_categories(10);
  for (double f : Histogram(classes, 10)) p.add_reference(f);
  p.set_epsilon(epsilon);
  return p;
}

// The body outputs of highest variance over `features`' rows, highest first.
std::vector<int> TopVarianceUnits(const RowMatrixXf& features, int n) {
  const Eigen::RowVectorXf mean = features.colwise().mean();
  const Eigen::RowVectorXf var =
      (features.rowwise() - mean).array().square().colwise().mean();
  std::vector<int> units(features.cols());
  std::iota(units.begin(), units.end(), 0);
  std::stable_sort(units.begin(), units.end(),
                   [&](int a, int b) { return var[a] > var[b]; });
  units.resize(std::min<size_t>(n, units.size()));
  return units;
}

TelemetryProbe ActivationProbe(const RowMatrixXf& features, int unit, int bins,
                               double epsilon) {
  std::vector<float> values(features.rows());
  for (int64_t i = 0; i < features.rows(); ++i) values[i] = features(i, unit);
  TelemetryProbe p;
  p.set_name(absl::StrCat("act_", unit));
  p.set_kind(fedtiny::telemetry::ACTIVATION);
  p.set_unit(unit);
  *p.mutable_binning() = QuantileBinning(values, bins);
  const int k = client::telemetry::NumBins(p.binning());
  std::vector<int> in_bin(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    in_bin[i] =
        static_cast<int>(client::telemetry::BinOf(p.binning(), values[i]));
  for (double f : Histogram(in_bin, k)) p.add_reference(f);
  p.set_epsilon(epsilon);
  return p;
}

// 10 us .. ~10 ms, 12 log-spaced bins.
TelemetryProbe LatencyProbe(double epsilon) {
  TelemetryProbe p;
  p.set_name("latency_us");
  p.set_kind(fedtiny::telemetry::INFERENCE_LATENCY_US);
  for (int i = 0; i <= 12; ++i)
    p.mutable_binning()->add_edges(10 * std::pow(2.0, i * 10.0 / 12));
  p.set_epsilon(epsilon);
  return p;
}

}  // namespace

Binning QuantileBinning(std::vector<float> values, int bins) {
  std::sort(values.begin(), values.end());
  std::vector<double> cuts;
  for (int j = 1; j < bins; ++j) {
    double c = values[std::min(values.size() - 1, j * values.size() / bins)];
    // A cut at the minimum (a ReLU's zeros) would leave bin 0 empty: put the
    // zeros, and only them, below the first cut.
    if (c <= values.front()) c = values.front() + 1e-6;
    // A cut with no value since the previous one would only make an empty bin.
    const bool empty_bin =
        !cuts.empty() &&
        std::lower_bound(values.begin(), values.end(), cuts.back()) ==
            std::lower_bound(values.begin(), values.end(), c);
    if (cuts.empty() || (c > cuts.back() && !empty_bin)) cuts.push_back(c);
  }
  if (cuts.empty()) cuts.push_back(values.front() + 1e-6);
  Binning b;
  b.add_edges(cuts.front() - 1);  // Below the first cut: bin 0 either way.
  for (double c : cuts) b.add_edges(c);
  b.add_edges(cuts.back() + 1);  // From the last cut on: the last bin.
  return b;
}

absl::StatusOr<AuthoredModel> TrainAndAuthor(const FashionMnist& data,
                                             const AuthorOptions& o) {
  const int64_t n = data.train.images.rows();
  if (o.train_examples < 1 || o.reference_examples < 1 ||
      o.train_examples + o.reference_examples > n || o.activation_probes < 0 ||
      o.activation_probes > 30 || o.activation_bins < 2 ||
      o.activation_bins > 64) {
    return absl::InvalidArgumentError(
        "author: bad example counts, probes or bins");
  }
  ASSIGN_OR_RETURN(Head full, TrainNetwork(data, o));
  AuthoredModel m;
  m.body = Body({full.layers[0]});
  m.head.layers = {full.layers[1], full.layers[2]};
  const RowMatrixXf features = DenseForward(
      full.layers[0], data.train.images.bottomRows(o.reference_examples));
  TelemetrySpec& spec = m.spec;
  spec.set_version(1);
  spec.set_window_s(86400);
  *spec.add_probes() = ClassProbe(m.head, features, o.drift_epsilon);
  for (int unit : TopVarianceUnits(features, o.activation_probes))
    *spec.add_probes() =
        ActivationProbe(features, unit, o.activation_bins, o.drift_epsilon);
  *spec.add_probes() = LatencyProbe(o.latency_epsilon);
  double total = 0;
  for (const TelemetryProbe& p : spec.probes()) total += p.epsilon();
  spec.set_daily_epsilon(total);
  RETURN_IF_ERROR(client::telemetry::ValidateSpec(spec));
  ASSIGN_OR_RETURN(client::Evaluation e,
                   client::ToAbsl(client::Evaluate(
                       m.head, DenseForward(full.layers[0], data.test.images),
                       data.test.labels)));
  m.test_accuracy = e.accuracy;
  return m;
}

}  // namespace fedtiny::sim::telemetry
