#include "client/core/round.h"

#include <cmath>

#include "client/core/personalization.h"
#include "client/core/status.h"

namespace fedtiny::client {

void HeadDelta(const Head& trained, const Head& start, std::vector<float>& delta) {
  delta.resize(static_cast<size_t>(start.num_params()));
  float* out = delta.data();
  for (size_t l = 0; l < start.layers.size(); ++l) {
    const DenseLayer& a = trained.layers[l];
    const DenseLayer& b = start.layers[l];
    Eigen::Map<Eigen::VectorXf>(out, b.w.size()) =
        Eigen::Map<const Eigen::VectorXf>(a.w.data(), a.w.size()) -
        Eigen::Map<const Eigen::VectorXf>(b.w.data(), b.w.size());
    out += b.w.size();
    Eigen::Map<Eigen::VectorXf>(out, b.b.size()) = a.b - b.b;
    out += b.b.size();
  }
}

void ClipToNorm(std::vector<float>& delta, double max_norm) {
  if (max_norm <= 0) return;
  double sq = 0;
  for (float v : delta) sq += static_cast<double>(v) * v;
  const double norm = std::sqrt(sq);
  if (norm <= max_norm) return;
  const float scale = static_cast<float>(max_norm / norm);
  for (float& v : delta) v *= scale;
}

StatusOr<DeviceUpdate> RunRound(const std::vector<Head>& heads, const RowMatrixXf& features,
                                      Span<const int32_t> labels, double clip_norm,
                                      TrainFn train) {
  if (heads.empty()) return InvalidArgumentError("round: no heads");
  DeviceUpdate u;
  if (heads.size() > 1) {
    CLIENT_ASSIGN_OR_RETURN(ClusterChoice choice, PickCluster(heads, features, labels));
    u.cluster = choice.cluster;
  }
  const Head& start = heads[u.cluster];
  Head local = start;
  CLIENT_ASSIGN_OR_RETURN(LocalTraining t, train(u.cluster, local));
  if (!t.completed) {
    u.completed = false;
    u.why_stopped = std::move(t.why_stopped);
    return u;
  }
  HeadDelta(local, start, u.delta);
  // A plan inside the ranges can still diverge; the server would refuse NaN/Inf.
  // x * 0 is 0 for finite x and NaN for Inf or NaN: one vectorized sum tells
  // (Eigen's allFinite() compares element by element, 6x slower here).
  if (!std::isfinite(
          (Eigen::Map<const Eigen::ArrayXf>(u.delta.data(), static_cast<Eigen::Index>(u.delta.size())) *
           0.f)
              .sum())) {
    return InvalidArgumentError("training: the update is not finite (diverged)");
  }
  ClipToNorm(u.delta, clip_norm);
  u.example_count = static_cast<int64_t>(labels.size());
  u.metrics.emplace_back("train_loss", t.result.mean_loss);
  if (t.result.examples_seen > 0) {
    u.metrics.emplace_back("train_accuracy", static_cast<double>(t.result.correct) /
                                                 static_cast<double>(t.result.examples_seen));
  }
  return u;
}

}  // namespace fedtiny::client
