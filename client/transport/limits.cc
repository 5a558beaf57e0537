#include "client/transport/limits.h"

#include <algorithm>
#include <functional>
#include <string>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace fedtiny::client {

namespace {

// Floats per example that one dense layer holds in flight: its input and
// output.
double Width(int64_t in, int64_t out) {
  return static_cast<double>(in) + static_cast<double>(out);
}

}  // namespace

absl::Status CheckBundles(const v1::Assignment& a, const DeviceLimits& limits) {
  if (a.bundles_size() > limits.max_bundles) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the assignment has ", a.bundles_size(),
        " bundles; this device takes at most ", limits.max_bundles));
  }
  int64_t total = 0;
  for (const v1::ModelBundle& b : a.bundles()) {
    if (b.size_bytes() < 0)
      return absl::DataLossError("a bundle has a negative size");
    if (b.size_bytes() > limits.max_working_bytes - total) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the assignment's bundles exceed this device's max_working_bytes (",
          limits.max_working_bytes, ")"));
    }
    total += b.size_bytes();
  }
  return absl::OkStatus();
}

absl::Status CheckWorkingSet(const Body& body, const std::vector<Head>& heads,
                             int64_t examples, int64_t batch_size,
                             const DeviceLimits& limits) {
  // An upper estimate of the peak, in floats, in double so that no width can
  // overflow it: the models held, plus the larger of running the body and, with
  // the features kept, evaluating or training a head.
  const double n = static_cast<double>(examples);
  const double batch = static_cast<double>(
      std::clamp<int64_t>(batch_size, 1, std::max<int64_t>(examples, 1)));
  double models = static_cast<double>(body.weight_bytes()) / 4;
  double run_body = 0;  // One layer's input and output over all examples.
  for (const BodyLayer& l : body.layers()) {
    std::visit(
        [&](const auto& d) {
          run_body = std::max(run_body, n * Width(d.in(), d.out()));
        },
        l);
  }
  double per_head = 0, features = n * static_cast<double>(body.output_dim(0));
  for (const Head& h : heads) {
    features = std::max(features, n * static_cast<double>(h.input_dim()));
    const double params = static_cast<double>(h.num_params());
    models += params;
    double evaluate = 0, widths = static_cast<double>(h.input_dim()),
           widest = widths;
    for (const DenseLayer& l : h.layers) {
      evaluate = std::max(evaluate, n * Width(l.in(), l.out()));
      widths += static_cast<double>(l.out());
      widest = std::max(widest, static_cast<double>(l.out()));
    }
    // Training: the trained copy, momentum, proximal anchor, flat base and
    // delta (five head-sized buffers), and the trainer's batch activations and
    // its two delta buffers (HeadTrainer's memory contract).
    const double train = 5 * params + batch * (widths + 2 * widest);
    per_head = std::max({per_head, evaluate, train});
  }
  const double floats = models + std::max(run_body, features + per_head);
  const double bytes = 4 * floats + 8 * n;  // + the trainer's example order.
  if (bytes > static_cast<double>(limits.max_working_bytes)) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "the round needs about %.1f MiB of working memory, over this device's "
        "max_working_bytes (%.1f MiB)",
        bytes / (1 << 20),
        static_cast<double>(limits.max_working_bytes) / (1 << 20)));
  }
  return absl::OkStatus();
}

TrainPlan TrainPlanOf(const v1::Plan& p, const std::string& device_id, int64_t round,
                      int64_t examples) {
  TrainPlan t;
  t.epochs = p.epochs();
  t.batch_size =
      static_cast<int>(std::min<int64_t>(p.batch_size(), std::max<int64_t>(examples, 1)));
  t.learning_rate = p.learning_rate();
  t.momentum = p.momentum();
  t.proximal_mu = p.proximal_mu();
  t.seed = std::hash<std::string>()(device_id) ^ static_cast<uint64_t>(round) * 0x9E3779B97F4A7C15ull;
  return t;
}

}  // namespace fedtiny::client
