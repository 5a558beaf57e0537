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

// A number as configs write it: digits with an optional sign, point and
// exponent. SimpleAtod alone would also take "nan", "inf", hex and spaces.
bool IsPlainNumber(absl::string_view v) {
  return !v.empty() && v.find_first_not_of("0123456789.eE+-") == v.npos;
}

// One parsed stage: a name and its key=value parameters, kept as text until a
// method says which type each key has.
struct Stage {
  std::string name;
  std::map<std::string, std::string> params;

  absl::Status CheckKeys(std::set<std::string> allowed) const {
    for (const auto& [k, v] : params) {
      if (allowed.count(k) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("aggregator '", name, "' has no parameter '", k, "'"));
      }
    }
    return absl::OkStatus();
  }
  absl::Status Error(absl::string_view key, absl::string_view why) const {
    return absl::InvalidArgumentError(
        absl::StrCat("aggregator '", name, "': parameter ", key, why));
  }
  // The text of `key`; kInvalidArgument when it is absent and has no fallback.
  absl::StatusOr<const std::string*> Find(const std::string& key,
                                          bool has_fallback) const {
    auto it = params.find(key);
    if (it != params.end()) return &it->second;
    if (has_fallback) return nullptr;
    return absl::InvalidArgumentError(
        absl::StrCat("aggregator '", name, "' needs parameter '", key, "'"));
  }
  // A real number in [lo, hi], or `fallback` when the key is absent.
  absl::StatusOr<double> Get(const std::string& key, double lo, double hi,
                             std::optional<double> fallback = std::nullopt) const {
    ASSIGN_OR_RETURN(const std::string* t, Find(key, fallback.has_value()));
    if (t == nullptr) return *fallback;
    double v = 0;
    if (!IsPlainNumber(*t) || !absl::SimpleAtod(*t, &v)) {
      return Error(key, absl::StrCat("='", *t, "' is not a number"));
    }
    if (!(v >= lo && v <= hi)) {
      return Error(key, absl::StrCat("=", *t, " outside [", lo, ", ", hi, "]"));
    }
    return v;
  }
  // An integer in [lo, hi] written in decimal digits ("1.5", "1e3" and "2x" are
  // errors, not 1, 1000 and 2), or `fallback` when the key is absent.
  absl::StatusOr<int> GetInt(const std::string& key, int lo, int hi,
                             std::optional<int> fallback = std::nullopt) const {
    ASSIGN_OR_RETURN(const std::string* t, Find(key, fallback.has_value()));
    if (t == nullptr) return *fallback;
    const size_t sign = (*t)[0] == '-' ? 1 : 0;
    int64_t v = 0;
    if (t->size() == sign ||
        t->find_first_not_of("0123456789", sign) != t->npos) {
      return Error(key, absl::StrCat("='", *t, "' is not an integer"));
    }
    if (!absl::SimpleAtoi(*t, &v) || v < lo || v > hi) {
      return Error(key, absl::StrCat("=", *t, " outside [", lo, ", ", hi, "]"));
    }
    return static_cast<int>(v);
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
    if (p.size() != 2 || p[0].empty() || p[1].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("aggregator '", stage.name, "': bad parameter '", kv, "'"));
    }
    if (!stage.params.emplace(std::string(p[0]), std::string(p[1])).second) {
      return stage.Error(p[0], " given twice");
    }
  }
  return stage;
}

constexpr double kBig = 1e12;
constexpr int kMaxCount = 1000000;  // Updates per round, iterations.

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
    ASSIGN_OR_RETURN(int f, s.GetInt("f", 0, kMaxCount));
    ASSIGN_OR_RETURN(int m, n == "krum" ? absl::StatusOr<int>(1)
                                        : s.GetInt("m", 1, kMaxCount));
    return AggregatorFactory([f, m](int64_t d) {
      return std::make_unique<KrumAggregator>(d, f, m);
    });
  }
  if (n == "geometric_median") {
    RETURN_IF_ERROR(s.CheckKeys({"tol", "iters", "nu"}));
    GeometricMedianOptions o;
    ASSIGN_OR_RETURN(o.tolerance, s.Get("tol", 0, 1, o.tolerance));
    ASSIGN_OR_RETURN(o.max_iterations,
                     s.GetInt("iters", 1, kMaxCount, o.max_iterations));
    ASSIGN_OR_RETURN(o.nu, s.Get("nu", 0, 1, o.nu));
    return AggregatorFactory([o](int64_t d) {
      return std::make_unique<GeometricMedianAggregator>(d, o);
    });
  }
  if (n == "centered_clipping") {
    RETURN_IF_ERROR(s.CheckKeys({"tau", "iters"}));
    ASSIGN_OR_RETURN(double tau, s.Get("tau", 1e-12, kBig));
    ASSIGN_OR_RETURN(int iters, s.GetInt("iters", 1, 1000, 1));
    return AggregatorFactory([tau, iters](int64_t d) {
      return std::make_unique<CenteredClippingAggregator>(d, tau, iters);
    });
  }
  if (n == "bulyan") {
    RETURN_IF_ERROR(s.CheckKeys({"f"}));
    ASSIGN_OR_RETURN(int f, s.GetInt("f", 0, kMaxCount));
    return AggregatorFactory(
        [f](int64_t d) { return std::make_unique<BulyanAggregator>(d, f); });
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
    ASSIGN_OR_RETURN(int f, s.GetInt("f", 0, kMaxCount));
    return AggregatorFactory([f, inner](int64_t d) {
      return std::make_unique<NnmAggregator>(d, f, inner);
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
