#include "proto/plan_ranges.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace fedtiny {

namespace {

// NaN fails every comparison, so it is outside every range.
bool Within(double v, double lo, double hi) { return v >= lo && v <= hi; }

absl::Status Outside(const char* field, double value,
                     const std::string& range) {
  return absl::InvalidArgumentError(
      absl::StrCat("plan: ", field, " ", value, " is outside ", range));
}

}  // namespace

absl::Status CheckPlan(const v1::Plan& p) {
  using R = PlanRanges;
  if (!Within(p.epochs(), 1, R::kMaxEpochs)) {
    return Outside("epochs", p.epochs(),
                   absl::StrCat("[1, ", R::kMaxEpochs, "]"));
  }
  if (!Within(p.batch_size(), 1, R::kMaxBatchSize)) {
    return Outside("batch_size", p.batch_size(),
                   absl::StrCat("[1, ", R::kMaxBatchSize, "]"));
  }
  if (!(p.learning_rate() > 0) ||
      !Within(p.learning_rate(), 0, R::kMaxLearningRate)) {
    return Outside("learning_rate", p.learning_rate(),
                   absl::StrCat("(0, ", R::kMaxLearningRate, "]"));
  }
  if (!Within(p.momentum(), 0, R::kMaxMomentum)) {
    return Outside("momentum", p.momentum(),
                   absl::StrCat("[0, ", R::kMaxMomentum, "]"));
  }
  if (!Within(p.proximal_mu(), 0, R::kMaxProximalMu)) {
    return Outside("proximal_mu", p.proximal_mu(),
                   absl::StrCat("[0, ", R::kMaxProximalMu, "]"));
  }
  if (!Within(p.clip_norm(), 0, R::kMaxClipNorm)) {
    return Outside("clip_norm", p.clip_norm(),
                   absl::StrCat("[0, ", R::kMaxClipNorm, "] (0: no clipping)"));
  }
  return absl::OkStatus();
}

}  // namespace fedtiny
