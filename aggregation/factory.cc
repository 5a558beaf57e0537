#include "aggregation/factory.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "aggregation/bulyan.h"
#include "aggregation/centered_clipping.h"
#include "aggregation/coordinate_median.h"
#include "aggregation/dp_fedavg.h"
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

  absl::Status CheckKeys(const std::vector<std::string>& allowed) const {
    for (const auto& [k, v] : params) {
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("aggregator '", name, "' has no parameter '", k,
                         "' (it takes: ",
                         allowed.empty() ? "none" : absl::StrJoin(allowed, ", "),
                         ")"));
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

// A method ends a spec; a stage wraps the factory of what follows it.
enum class Kind { kMethod, kStage };

// One row of the registry. `build` reads the stage's values (its keys were
// already checked against `keys`) and returns the factory; `inner` is the
// factory of the rest of the spec for a stage, empty for a method.
struct Entry {
  std::string name;
  Kind kind;
  std::vector<std::string> keys;
  bool needs_random = false;  // Draws noise: AggregatorDeps::random.
  bool mixes_updates = false;  // Feeds its inner method combinations of updates.
  std::function<absl::StatusOr<AggregatorFactory>(
      const Stage&, const AggregatorDeps&, AggregatorFactory inner)>
      build;
};

absl::StatusOr<AggregatorFactory> BuildKrum(const Stage& s, bool multi) {
  ASSIGN_OR_RETURN(int f, s.GetInt("f", 0, kMaxCount));
  ASSIGN_OR_RETURN(int m, multi ? s.GetInt("m", 1, kMaxCount)
                                : absl::StatusOr<int>(1));
  return AggregatorFactory(
      [f, m](int64_t d) { return std::make_unique<KrumAggregator>(d, f, m); });
}

absl::StatusOr<AggregatorFactory> BuildGeometricMedian(const Stage& s) {
  GeometricMedianOptions o;
  ASSIGN_OR_RETURN(o.tolerance, s.Get("tol", 0, 1, o.tolerance));
  ASSIGN_OR_RETURN(o.max_iterations,
                   s.GetInt("iters", 1, kMaxCount, o.max_iterations));
  ASSIGN_OR_RETURN(o.nu, s.Get("nu", 0, 1, o.nu));
  return AggregatorFactory([o](int64_t d) {
    return std::make_unique<GeometricMedianAggregator>(d, o);
  });
}

absl::StatusOr<AggregatorFactory> BuildDpFedAvg(const Stage& s,
                                                const AggregatorDeps& deps) {
  DpFedAvgOptions o;
  ASSIGN_OR_RETURN(o.clip_norm, s.Get("clip", 1e-12, kBig));
  ASSIGN_OR_RETURN(o.noise_multiplier, s.Get("noise", 0, 1e6));
  ASSIGN_OR_RETURN(o.expected_clients, s.Get("clients", 1, kBig, 0.0));
  // Not owned (aliasing constructor with an empty owner): deps.random outlives
  // the aggregators, as AggregatorDeps requires.
  std::shared_ptr<RandomSource> noise(std::shared_ptr<RandomSource>(),
                                      deps.random);
  return AggregatorFactory([o, noise](int64_t d) {
    return std::make_unique<DpFedAvgAggregator>(d, o, noise);
  });
}

// The registry: every method and stage a spec may name.
const std::vector<Entry>& Registry() {
  using Deps = const AggregatorDeps&;
  static const auto* table = new std::vector<Entry>{
      {"fedavg", Kind::kMethod, {}, false, false,
       [](const Stage&, Deps, AggregatorFactory) {
         return absl::StatusOr<AggregatorFactory>([](int64_t d) {
           return std::make_unique<FedAvgAggregator>(d);
         });
       }},
      {"median", Kind::kMethod, {}, false, false,
       [](const Stage&, Deps, AggregatorFactory) {
         return absl::StatusOr<AggregatorFactory>([](int64_t d) {
           return std::make_unique<CoordinateMedianAggregator>(d);
         });
       }},
      {"trimmed_mean", Kind::kMethod, {"beta"}, false, false,
       [](const Stage& s, Deps, AggregatorFactory) -> absl::StatusOr<AggregatorFactory> {
         ASSIGN_OR_RETURN(double beta, s.Get("beta", 0, 0.4999));
         return AggregatorFactory([beta](int64_t d) {
           return std::make_unique<TrimmedMeanAggregator>(d, beta);
         });
       }},
      {"krum", Kind::kMethod, {"f"}, false, false,
       [](const Stage& s, Deps, AggregatorFactory) { return BuildKrum(s, false); }},
      {"multi_krum", Kind::kMethod, {"f", "m"}, false, false,
       [](const Stage& s, Deps, AggregatorFactory) { return BuildKrum(s, true); }},
      {"geometric_median", Kind::kMethod, {"tol", "iters", "nu"}, false, false,
       [](const Stage& s, Deps, AggregatorFactory) { return BuildGeometricMedian(s); }},
      {"centered_clipping", Kind::kMethod, {"tau", "iters"}, false, false,
       [](const Stage& s, Deps, AggregatorFactory) -> absl::StatusOr<AggregatorFactory> {
         ASSIGN_OR_RETURN(double tau, s.Get("tau", 1e-12, kBig));
         ASSIGN_OR_RETURN(int iters, s.GetInt("iters", 1, 1000, 1));
         return AggregatorFactory([tau, iters](int64_t d) {
           return std::make_unique<CenteredClippingAggregator>(d, tau, iters);
         });
       }},
      {"bulyan", Kind::kMethod, {"f"}, false, false,
       [](const Stage& s, Deps, AggregatorFactory) -> absl::StatusOr<AggregatorFactory> {
         ASSIGN_OR_RETURN(int f, s.GetInt("f", 0, kMaxCount));
         return AggregatorFactory(
             [f](int64_t d) { return std::make_unique<BulyanAggregator>(d, f); });
       }},
      {"dp_fedavg", Kind::kMethod, {"clip", "noise", "clients"}, true, false,
       [](const Stage& s, Deps deps, AggregatorFactory) { return BuildDpFedAvg(s, deps); }},
      {"norm_bound", Kind::kStage, {"c"}, false, false,
       [](const Stage& s, Deps, AggregatorFactory inner) -> absl::StatusOr<AggregatorFactory> {
         ASSIGN_OR_RETURN(double c, s.Get("c", 1e-12, kBig));
         return AggregatorFactory([c, inner](int64_t d) {
           return std::make_unique<NormBoundingAggregator>(c, inner(d));
         });
       }},
      {"nnm", Kind::kStage, {"f"}, false, true,
       [](const Stage& s, Deps, AggregatorFactory inner) -> absl::StatusOr<AggregatorFactory> {
         ASSIGN_OR_RETURN(int f, s.GetInt("f", 0, kMaxCount));
         return AggregatorFactory([f, inner](int64_t d) {
           return std::make_unique<NnmAggregator>(d, f, inner);
         });
       }},
  };
  return *table;
}

std::string NamesOf(Kind kind) {
  std::vector<std::string> names;
  for (const Entry& e : Registry()) {
    if (e.kind == kind) names.push_back(e.name);
  }
  return absl::StrJoin(names, ", ");
}

// The entry for stage `s` at a position that needs `kind`.
absl::StatusOr<const Entry*> Lookup(const Stage& s, Kind kind) {
  for (const Entry& e : Registry()) {
    if (e.name != s.name) continue;
    if (e.kind == kind) return &e;
    if (kind == Kind::kMethod) {
      return absl::InvalidArgumentError(absl::StrCat(
          "aggregator '", s.name, "' is a pre-aggregation stage; a spec must end "
          "with a method (", NamesOf(Kind::kMethod), ")"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "aggregator '", s.name, "' is a method, not a pre-aggregation stage (",
        NamesOf(Kind::kStage), "); only the last stage of a spec may be a method"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown aggregator '", s.name, "' (methods: ", NamesOf(Kind::kMethod),
      "; stages: ", NamesOf(Kind::kStage), ")"));
}

// Composition rules that no single entry can check.
absl::Status CheckChain(const std::vector<const Entry*>& chain) {
  const Entry* mixer = nullptr;
  for (const Entry* e : chain) {
    if (e->mixes_updates && mixer == nullptr) mixer = e;
    if (e->needs_random && mixer != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "aggregator '", e->name, "' may not follow '", mixer->name, "': ",
          mixer->name, " mixes each update into many rows, so one client could "
          "move the noised sum by more than the clip norm its noise is set for"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<AggregatorFactory> Parse(absl::string_view spec,
                                        const AggregatorDeps& deps,
                                        bool require_deps) {
  std::vector<Stage> stages;
  std::vector<const Entry*> chain;
  for (absl::string_view p : absl::StrSplit(spec, '+')) {
    ASSIGN_OR_RETURN(Stage s, ParseStage(p));
    stages.push_back(std::move(s));
  }
  for (size_t i = 0; i < stages.size(); ++i) {
    const Kind kind = i + 1 == stages.size() ? Kind::kMethod : Kind::kStage;
    ASSIGN_OR_RETURN(const Entry* e, Lookup(stages[i], kind));
    RETURN_IF_ERROR(stages[i].CheckKeys(e->keys));
    if (e->needs_random && require_deps && deps.random == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "aggregator '", e->name, "' draws noise and needs a RandomSource "
          "(AggregatorDeps::random), which this caller did not supply"));
    }
    chain.push_back(e);
  }
  RETURN_IF_ERROR(CheckChain(chain));
  AggregatorFactory f;
  for (int i = static_cast<int>(stages.size()) - 1; i >= 0; --i) {
    ASSIGN_OR_RETURN(f, chain[i]->build(stages[i], deps, std::move(f)));
  }
  return f;
}

}  // namespace

absl::StatusOr<AggregatorFactory> ParseAggregatorSpec(
    absl::string_view spec, const AggregatorDeps& deps) {
  return Parse(spec, deps, /*require_deps=*/true);
}

absl::Status ValidateAggregatorSpec(absl::string_view spec) {
  return Parse(spec, {}, /*require_deps=*/false).status();
}

absl::StatusOr<std::unique_ptr<Aggregator>> MakeAggregator(
    absl::string_view spec, int64_t dim, const AggregatorDeps& deps) {
  ASSIGN_OR_RETURN(AggregatorFactory f, ParseAggregatorSpec(spec, deps));
  return f(dim);
}

std::vector<std::string> RegisteredAggregatorNames() {
  std::vector<std::string> names;
  for (const Entry& e : Registry()) names.push_back(e.name);
  return names;
}

}  // namespace fedtiny::aggregation
