#include "aggregation/aggregator_state.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "aggregation/buffered_aggregator.h"
#include "aggregation/fedavg.h"
#include "aggregation/norm_bounding.h"
#include "proto/aggregator_state.pb.h"
#include "tools/base/status_macros.h"

namespace fedtiny::aggregation {

namespace {

absl::Status Save(const Aggregator& a, v1::AggregatorState& out) {
  out.set_name(a.Name());
  out.set_dim(a.dim());
  out.set_count(a.num_updates());
  if (const auto* f = dynamic_cast<const FedAvgAggregator*>(&a)) {
    out.set_total_weight(f->total_weight());
    out.mutable_mean()->Add(f->mean().data(), f->mean().data() + f->mean().size());
    return absl::OkStatus();
  }
  if (const auto* b = dynamic_cast<const BufferedAggregator*>(&a)) {
    const ConstRowMatrixMap rows = b->updates();
    out.mutable_rows()->Add(rows.data(), rows.data() + rows.size());
    out.mutable_weights()->Add(b->weights().begin(), b->weights().end());
    double total = 0;
    for (double w : b->weights()) total += w;
    out.set_total_weight(total);
    return absl::OkStatus();
  }
  if (const auto* n = dynamic_cast<const NormBoundingAggregator*>(&a)) {
    out.set_clipped(n->num_clipped());
    return Save(n->inner(), *out.mutable_inner());
  }
  return absl::UnimplementedError(absl::StrCat(a.Name(), ": no saved state for this method"));
}

absl::Status Load(const v1::AggregatorState& s, Aggregator& into) {
  if (s.name() != into.Name() || s.dim() != into.dim()) {
    return absl::InvalidArgumentError(absl::StrCat("aggregator state of ", s.name(), " (dim ",
                                                   s.dim(), ") cannot load into ", into.Name(),
                                                   " (dim ", into.dim(), ")"));
  }
  if (into.num_updates() != 0) {
    return absl::FailedPreconditionError(absl::StrCat(into.Name(), ": load into a used aggregator"));
  }
  if (auto* f = dynamic_cast<FedAvgAggregator*>(&into)) {
    if (s.mean_size() != s.dim()) return absl::InvalidArgumentError("fedavg state: wrong mean size");
    Eigen::VectorXd mean = Eigen::Map<const Eigen::VectorXd>(s.mean().data(), s.mean_size());
    return f->Restore(std::move(mean), s.total_weight(), s.count());
  }
  if (auto* b = dynamic_cast<BufferedAggregator*>(&into)) {
    if (s.weights_size() != s.count()) {
      return absl::InvalidArgumentError(absl::StrCat(s.name(), " state: count and weights disagree"));
    }
    return b->Restore(std::vector<float>(s.rows().begin(), s.rows().end()),
                      std::vector<double>(s.weights().begin(), s.weights().end()));
  }
  if (auto* n = dynamic_cast<NormBoundingAggregator*>(&into)) {
    if (s.clipped() < 0 || s.clipped() > s.inner().count()) {
      return absl::InvalidArgumentError("norm_bound state: bad clipped count");
    }
    RETURN_IF_ERROR(Load(s.inner(), n->mutable_inner()));
    n->set_num_clipped(s.clipped());
    return absl::OkStatus();
  }
  return absl::UnimplementedError(absl::StrCat(into.Name(), ": no saved state for this method"));
}

}  // namespace

absl::StatusOr<std::string> SaveState(const Aggregator& a) {
  v1::AggregatorState state;
  RETURN_IF_ERROR(Save(a, state));
  return state.SerializeAsString();
}

absl::Status LoadState(absl::string_view bytes, Aggregator& empty) {
  v1::AggregatorState state;
  if (!state.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError("aggregator state: not a serialized AggregatorState");
  }
  return Load(state, empty);
}

}  // namespace fedtiny::aggregation
