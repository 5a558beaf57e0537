#include "aggregation/factory.h"

#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "aggregation/bulyan.h"
#include "aggregation/centered_clipping.h"
#include "aggregation/coordinate_median.h"
#include "aggregation/fedavg.h"
#include "aggregation/geometric_median.h"
#include "aggregation/krum.h"
#include "aggregation/norm_bounding.h"
#include "aggregation/trimmed_mean.h"
#include "tools/base/status_macros.h"

namespace fedtiny::aggregation {

namespace {

// One parsed stage: a name and its key=value parameters.
struct Stage {
  std::string name;
  std::map<std::string, double> params;

  absl::Status CheckKeys(std::set<std::string> allowed) const {
    for (const auto& [k, v] : params) {
      if (allowed.count(k) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("aggregator '", name, "' has no parameter '", k, "'"));
      }
    }
    return absl::OkStatus();
  }
  absl::StatusOr<double> Get(const std::string& key, double lo, double hi,
                             std::optional<double> fallback = std::nullopt) const {
    auto it = params.find(key);
    if (it == params.end()) {
      if (fallback) return *fallback;
      return absl::InvalidArgumentError(
          absl::StrCat("aggregator '", name, "' needs parameter '", key, "'"));
    }
    if (!(it->second >= lo && it->second <= hi)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "aggregator '", name, "': ", key, "=", it->second, " outside [", lo,
          ", ", hi, "]"));
    }
    return it->second;
  }
};

absl::StatusOr<Stage> ParseStage(absl::string_view text) {
  Stage stage;
  std::vector<absl::string_view> head = absl::StrSplit(text, absl::MaxSplits(':', 1));
  stage.name = std::string(head[0]);
  if (stage.name.empty()) return absl::InvalidArgumentError("empty aggregator stage");
  if (head.size() == 1) return stage;
  for (absl::string_view kv : absl::StrSplit(head[1], ',')) {
    std::vector<absl::string_view> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    double value = 0;
    if (p.size() != 2 || p[0].empty() || !absl::SimpleAtod(p[1], &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("aggregator '", stage.name, "': bad parameter '", kv, "'"));
    }
    stage.params[std::string(p[0])] = value;
  }
  return stage;
}

constexpr double kBig = 1e12;

absl::StatusOr<AggregatorFactory> MethodFactory(const Stage& s) {
  const std::string& n = s.name;
  if (n == "fedavg" || n == "median") {
    RETURN_IF_ERROR(s.CheckKeys({}));
    if (n == "fedavg") {
      return AggregatorFactory(
          [](int64_t d) { return std::make_unique<FedAvgAggregator>(d); });
    }
    return AggregatorFactory(
        [](int64_t d) { return std::make_unique<CoordinateMedianAggregator>(d); });
  }
  if (n == "trimmed_mean") {
    RETURN_IF_ERROR(s.CheckKeys({"beta"}));
    ASSIGN_OR_RETURN(double beta, s.Get("beta", 0, 0.4999));
    return AggregatorFactory([beta](int64_t d) {
      return std::make_unique<TrimmedMeanAggregator>(d, beta);
    });
  }
  if (n == "krum" || n == "multi_krum") {
    RETURN_IF_ERROR(s.CheckKeys(n == "krum" ? std::set<std::string>{"f"}
                                               : std::set<std::string>{"f", "m"}));
    ASSIGN_OR_RETURN(double f, s.Get("f", 0, 1e6));
    ASSIGN_OR_RETURN(double m, n == "krum" ? absl::StatusOr<double>(1)
                                              : s.Get("m", 1, 1e6));
    return AggregatorFactory([f, m](int64_t d) {
      return std::make_unique<KrumAggregator>(d, static_cast<int>(f),
                                              static_cast<int>(m));
    });
  }
  if (n == "geometric_median") {
    RETURN_IF_ERROR(s.CheckKeys({"tol", "iters", "nu"}));
    GeometricMedianOptions o;
    ASSIGN_OR_RETURN(o.tolerance, s.Get("tol", 0, 1, o.tolerance));
    ASSIGN_OR_RETURN(double iters, s.Get("iters", 1, 1e6, o.max_iterations));
    ASSIGN_OR_RETURN(o.nu, s.Get("nu", 0, kBig, o.nu));
    o.max_iterations = static_cast<int>(iters);
    return AggregatorFactory([o](int64_t d) {
      return std::make_unique<GeometricMedianAggregator>(d, o);
    });
  }
  if (n == "centered_clipping") {
    RETURN_IF_ERROR(s.CheckKeys({"tau", "iters"}));
    ASSIGN_OR_RETURN(double tau, s.Get("tau", 1e-12, kBig));
    ASSIGN_OR_RETURN(double iters, s.Get("iters", 1, 1000, 1));
    return AggregatorFactory([tau, iters](int64_t d) {
      return std::make_unique<CenteredClippingAggregator>(d, tau,
                                                          static_cast<int>(iters));
    });
  }
  if (n == "bulyan") {
    RETURN_IF_ERROR(s.CheckKeys({"f"}));
    ASSIGN_OR_RETURN(double f, s.Get("f", 0, 1e6));
    return AggregatorFactory([f](int64_t d) {
      return std::make_unique<BulyanAggregator>(d, static_cast<int>(f));
    });
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown aggregator '", n, "'"));
}

absl::StatusOr<AggregatorFactory> WrapStage(const Stage& s, AggregatorFactory inner) {
  if (s.name == "norm_bound") {
    RETURN_IF_ERROR(s.CheckKeys({"c"}));
    ASSIGN_OR_RETURN(double c, s.Get("c", 1e-12, kBig));
    return AggregatorFactory([c, inner](int64_t d) {
      return std::make_unique<NormBoundingAggregator>(c, inner(d));
    });
  }
  if (s.name == "nnm") {
    RETURN_IF_ERROR(s.CheckKeys({"f"}));
    ASSIGN_OR_RETURN(double f, s.Get("f", 0, 1e6));
    return AggregatorFactory([f, inner](int64_t d) {
      return std::make_unique<NnmAggregator>(d, static_cast<int>(f), inner);
    });
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown pre-aggregation stage '", s.name, "' (norm_bound or nnm)"));
}

}  // namespace

absl::StatusOr<AggregatorFactory> ParseAggregatorSpec(absl::string_view spec) {
  std::vector<absl::string_view> parts = absl::StrSplit(spec, '+');
  std::vector<Stage> stages;
  for (absl::string_view p : parts) {
    ASSIGN_OR_RETURN(Stage s, ParseStage(p));
    stages.push_back(std::move(s));
  }
  ASSIGN_OR_RETURN(AggregatorFactory f, MethodFactory(stages.back()));
  for (int i = static_cast<int>(stages.size()) - 2; i >= 0; --i) {
    ASSIGN_OR_RETURN(f, WrapStage(stages[i], std::move(f)));
  }
  return f;
}

absl::StatusOr<std::unique_ptr<Aggregator>> MakeAggregator(absl::string_view spec,
                                                           int64_t dim) {
  ASSIGN_OR_RETURN(AggregatorFactory f, ParseAggregatorSpec(spec));
  return f(dim);
}

}  // namespace fedtiny::aggregation
