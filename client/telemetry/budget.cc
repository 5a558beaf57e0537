#include "client/telemetry/budget.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/platform/linux/status_bridge.h"

namespace fedtiny::client::telemetry {
namespace {

constexpr int64_t kDaySeconds = 86400;
// Floating-point slack: a budget of 4 is met, not exceeded, by 8 x 0.5.
constexpr double kSlack = 1e-9;

int64_t UtcDay(absl::Time t) {
  const int64_t s = absl::ToUnixSeconds(t);
  return s >= 0 ? s / kDaySeconds : -((-s + kDaySeconds - 1) / kDaySeconds);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PrivacyBudget>> PrivacyBudget::Open(
    Storage& storage, std::string path, const ::fedtiny::Clock& clock) {
  std::unique_ptr<PrivacyBudget> b(
      new PrivacyBudget(storage, std::move(path), clock));
  StatusOr<std::string> bytes = storage.ReadFile(b->path_);
  if (!bytes.ok() && bytes.status().code() == StatusCode::kNotFound) return b;
  if (!bytes.ok()) return ToAbsl(bytes.status());
  long long day = 0;
  double spent = 0;
  char tail = 0;
  absl::MutexLock lock(&b->mu_);
  if (std::sscanf(bytes->c_str(), "fedtiny-privacy-budget 1 %lld %lf%c", &day,
                  &spent, &tail) == 3 &&
      tail == '\n' && spent >= 0 && std::isfinite(spent)) {
    b->day_ = day;
    b->spent_ = spent;
  } else {  // Unreadable: today is used up.
    b->day_ = UtcDay(clock.Now());
    b->spent_ = std::numeric_limits<double>::infinity();
  }
  return b;
}

int64_t PrivacyBudget::Today() const {
  return std::max(day_, UtcDay(clock_.Now()));
}

absl::Status PrivacyBudget::Spend(double epsilon, double daily_epsilon) {
  if (!(epsilon > 0) || !std::isfinite(epsilon)) {
    return absl::InvalidArgumentError("privacy budget: epsilon must be > 0");
  }
  absl::MutexLock lock(&mu_);
  const int64_t today = Today();
  const double spent = today == day_ ? spent_ : 0;
  if (spent + epsilon > daily_epsilon + kSlack) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("privacy budget: a report of epsilon %g would exceed "
                        "today's %g (%g spent); not sent",
                        epsilon, daily_epsilon, spent));
  }
  const std::string line = absl::StrFormat(
      "fedtiny-privacy-budget 1 %d %.17g\n", today, spent + epsilon);
  absl::Status stored = ToAbsl(storage_.WriteFileAtomically(path_, line));
  if (!stored.ok()) {
    return absl::InternalError(absl::StrCat(
        "privacy budget: cannot store the spending, so not sending: ",
        stored.message()));
  }
  day_ = today;
  spent_ = spent + epsilon;
  return absl::OkStatus();
}

double PrivacyBudget::SpentToday() const {
  absl::MutexLock lock(&mu_);
  return Today() == day_ ? spent_ : 0;
}

}  // namespace fedtiny::client::telemetry
