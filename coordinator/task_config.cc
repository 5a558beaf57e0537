#include "coordinator/task_config.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "aggregation/factory.h"
#include "aggregation/random_source.h"
#include "aggregation/server_optimizer.h"
#include "coordinator/telemetry/spec.h"
#include "proto/model_codec.h"
#include "proto/plan_ranges.h"
#include "tools/base/status_macros.h"
#include "tools/base/update_codec.h"

namespace fedtiny::coordinator {

namespace {

// Variant names travel in ModelBundle.variant (15 characters on devices) and
// in target names "<task>/<cluster>/<variant>/<version>".
bool VariantNameOk(const std::string& name) {
  if (name.empty() || name.size() > 15 || name == "float32") return false;
  for (char ch : name) {
    if (!absl::ascii_islower(ch) && !absl::ascii_isdigit(ch) && ch != '_' && ch != '-') return false;
  }
  return true;
}

absl::Status ValidateBodyVariants(const v1::TaskConfig& c) {
  if (c.body_variants_size() > 8) {
    return absl::InvalidArgumentError("task: body_variants: at most 8 variants");
  }
  if (c.body_variants_size() == 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(const int64_t width, BodyOutputWidth(c.model()));
  for (const auto& [name, variant] : c.body_variants()) {
    const std::string at = absl::StrCat("task: body_variants['", name.substr(0, 64), "']");
    if (!VariantNameOk(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(at, ": a name is 1-15 characters of [a-z0-9_-], not \"float32\""));
    }
    if (variant.below_ram_bytes() < 0 || !std::isfinite(variant.proxy_accuracy())) {
      return absl::InvalidArgumentError(absl::StrCat(at, ": below_ram_bytes >= 0"));
    }
    absl::StatusOr<int64_t> out = BodyOutputWidth(variant.model());
    if (!out.ok()) return absl::InvalidArgumentError(absl::StrCat(at, ": ", out.status().message()));
    if (*out != width) {
      return absl::InvalidArgumentError(absl::StrCat(at, ": its body outputs ", *out,
                                                     " values, the task's head takes ", width));
    }
    if (variant.model().input_dim() != c.model().input_dim()) {
      return absl::InvalidArgumentError(absl::StrCat(at, ": its input width ",
                                                     variant.model().input_dim(), " is not the task's ",
                                                     c.model().input_dim()));
    }
  }
  return absl::OkStatus();
}


constexpr int64_t kDefaultMaxExamples = 1'000'000;
constexpr int64_t kMaxMaxExamples = int64_t{1} << 40;  // Any weight sum stays exact in double.
constexpr int kMaxAcceptedMetrics = 16;

bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// The compression spec devices receive (docs/protocol.md, "Compressed
// updates"); "none" is stored as "". 64 bytes: what nanopb devices hold.
absl::Status ValidateCompression(v1::TaskConfig& c) {
  if (c.compression().size() > 64) {
    return absl::InvalidArgumentError("task: compression: at most 64 bytes");
  }
  CompressionSpec spec;
  std::string error;
  if (!ParseCompressionSpec(c.compression(), &spec, &error)) {
    return absl::InvalidArgumentError(absl::StrCat("task: ", error));
  }
  if (spec.none()) c.clear_compression();
  return absl::OkStatus();
}

// Fills the defaults of an asynchronous task (a = 0.5, tau_max = 100) and
// checks the ranges (docs/protocol.md, "Asynchronous tasks").
absl::Status ValidateAsync(v1::AsyncConfig& a) {
  if (a.staleness_exponent() == 0) a.set_staleness_exponent(0.5);
  if (a.max_staleness() == 0) a.set_max_staleness(100);
  if (a.concurrency() < 1 || a.concurrency() > 1'000'000 || a.buffer() < 1 ||
      a.buffer() > 10'000 || !(a.staleness_exponent() > 0 && a.staleness_exponent() <= 10) ||
      a.max_staleness() < 1 || a.max_staleness() > 1'000'000) {
    return absl::InvalidArgumentError(
        "task: async needs concurrency in [1, 1e6], buffer in [1, 1e4], staleness_exponent in "
        "(0, 10] and max_staleness in [1, 1e6]");
  }
  return absl::OkStatus();
}

}  // namespace

EngineConfig EngineConfigOf(const v1::TaskConfig& c, int64_t dim) {
  EngineConfig e;
  e.task = c.name();
  e.rounds = c.rounds();
  e.goal = c.clients_per_round();
  e.over_selection = c.over_selection();
  e.min_reports = c.min_reports();
  e.deadline = absl::Milliseconds(c.round_deadline_ms());
  e.clusters = c.clusters();
  e.dim = dim;
  e.aggregator = c.aggregator();
  e.server_optimizer = c.server_optimizer();
  e.eligibility = EligibilityPolicy{c.eligibility().require_charging(),
                                    c.eligibility().require_idle(),
                                    c.eligibility().require_unmetered(),
                                    c.eligibility().min_battery_percent(), false};
  e.cooldown = absl::Milliseconds(c.cooldown_ms());
  for (const auto& [device_class, quota] : c.class_quota()) e.class_quota[device_class] = quota;
  e.max_example_count = c.max_example_count();
  e.max_update_norm = c.max_update_norm();
  e.accepted_metrics.assign(c.accepted_metrics().begin(), c.accepted_metrics().end());
  if (c.has_async()) {
    e.async = AsyncEngineConfig{c.async().concurrency(), c.async().buffer(),
                                c.async().staleness_exponent(), c.async().max_staleness()};
  }
  // Asynchronous tasks start their heads as IFCA does (no warm-up round).
  e.cluster_warmup = c.cluster_start() == "kmeans" && !c.has_async();
  return e;
}

absl::StatusOr<v1::TaskConfig> ValidateTaskConfig(v1::TaskConfig c) {
  if (!ValidName(c.name())) {
    return absl::InvalidArgumentError("task: name must be 1-64 characters of [a-z0-9-]");
  }
  if (c.population().empty()) c.set_population(c.name());
  if (c.population().size() > 64) {
    return absl::InvalidArgumentError("task: population must have 1 to 64 bytes (as devices send)");
  }
  if (absl::Status model = ValidateModel(c.model()); !model.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("task: ", model.message()));
  }
  v1::Plan* p = c.mutable_plan();
  if (p->epochs() == 0) p->set_epochs(1);
  if (p->batch_size() == 0) p->set_batch_size(10);
  if (p->learning_rate() == 0) p->set_learning_rate(0.05f);
  // The ranges devices accept (docs/protocol.md): a plan outside them would only
  // make every device refuse every assignment.
  if (absl::Status plan = CheckPlan(*p); !plan.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("task: ", plan.message()));
  }
  if (c.rounds() == 0) c.set_rounds(10);
  if (c.clients_per_round() == 0) c.set_clients_per_round(10);
  if (c.over_selection() == 0) c.set_over_selection(1.3);
  if (c.min_reports() == 0) c.set_min_reports(std::max(1, c.clients_per_round() / 2));
  if (c.round_deadline_ms() == 0) c.set_round_deadline_ms(10 * 60 * 1000);
  if (c.aggregator().empty()) c.set_aggregator("fedavg");
  if (c.server_optimizer().empty()) c.set_server_optimizer("sgd");
  if (c.clusters() == 0) c.set_clusters(1);
  if (c.cluster_start().empty() && c.clusters() > 1) c.set_cluster_start("kmeans");
  if (!c.cluster_start().empty() && c.cluster_start() != "kmeans" && c.cluster_start() != "random") {
    return absl::InvalidArgumentError("task: cluster_start must be \"kmeans\" or \"random\"");
  }
  if (c.max_example_count() == 0) c.set_max_example_count(kDefaultMaxExamples);
  if (c.max_update_norm() == 0) c.set_max_update_norm(1e4);
  if (!(c.max_update_norm() > 0 && c.max_update_norm() <= 1e30)) {
    return absl::InvalidArgumentError("task: max_update_norm must be in (0, 1e30]");
  }
  if (c.accepted_metrics().empty()) {
    for (const char* m : {"train_loss", "train_accuracy", "loss", "accuracy"}) c.add_accepted_metrics(m);
  }
  if (c.max_example_count() < 1 || c.max_example_count() > kMaxMaxExamples) {
    return absl::InvalidArgumentError("task: max_example_count must be in [1, 2^40]");
  }
  if (c.accepted_metrics_size() > kMaxAcceptedMetrics ||
      std::any_of(c.accepted_metrics().begin(), c.accepted_metrics().end(), [](const std::string& m) {
        return m.empty() || m.size() > static_cast<size_t>(kMaxMetricNameBytes);
      })) {
    return absl::InvalidArgumentError("task: at most 16 accepted_metrics of 1 to 64 bytes each");
  }
  if (!c.has_eligibility()) {
    c.mutable_eligibility()->set_require_charging(true);
    c.mutable_eligibility()->set_require_idle(true);
    c.mutable_eligibility()->set_require_unmetered(true);
    c.mutable_eligibility()->set_min_battery_percent(50);
  }
  constexpr int64_t kWeekMs = int64_t{7} * 24 * 3600 * 1000;
  if (c.rounds() < 1 || c.clients_per_round() < 1 || c.clients_per_round() > 1'000'000 ||
      !(c.over_selection() >= 1 && c.over_selection() <= 10) ||
      c.min_reports() < 1 || c.min_reports() > c.clients_per_round() ||
      c.round_deadline_ms() < 1 || c.round_deadline_ms() > kWeekMs ||
      c.cooldown_ms() > 365 * kWeekMs || c.clusters() < 1 || c.clusters() > 64 ||
      c.cooldown_ms() < 0 || c.int8_below_ram_bytes() < 0 ||
      c.eligibility().min_battery_percent() < 0 || c.eligibility().min_battery_percent() > 100 ||
      std::any_of(c.class_quota().begin(), c.class_quota().end(),
                  [](const auto& q) { return q.second < 1; })) {
    return absl::InvalidArgumentError(
        "task: need rounds >= 1; clients_per_round in [1, 1e6]; over_selection in [1, 10]; "
        "1 <= min_reports <= clients_per_round; round_deadline_ms in [1, one week]; "
        "cooldown_ms in [0, 365 weeks]; clusters in [1, 64]");
  }
  if (c.has_async()) RETURN_IF_ERROR(ValidateAsync(*c.mutable_async()));
  if (c.variant_by_class_size() > 64) {
    return absl::InvalidArgumentError("task: variant_by_class names at most 64 device classes");
  }
  for (const auto& [device_class, variant] : c.variant_by_class()) {
    if (device_class.empty() || device_class.size() > 64 || device_class == "*" ||
        device_class.find('/') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "task: variant_by_class: device class '", device_class.substr(0, 64),
          "' must be 1..64 bytes, not \"*\", without '/'"));
    }
    if (variant != "float32" && variant != "int8" && !c.body_variants().contains(variant)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "task: variant_by_class[", device_class, "] is '", variant.substr(0, 64),
          "': must be \"float32\", \"int8\" or a name in body_variants"));
    }
  }
  RETURN_IF_ERROR(ValidateBodyVariants(c));
  if (c.keep_versions() < 0 || c.keep_versions() > 1'000'000) {
    return absl::InvalidArgumentError("task: keep_versions must be in [0, 1e6] (0 keeps every blob)");
  }
  if (c.has_telemetry()) {
    ASSIGN_OR_RETURN(*c.mutable_telemetry(), telemetry::ValidateSpec(c.telemetry()));
  }
  RETURN_IF_ERROR(ValidateCompression(c));
  RETURN_IF_ERROR(aggregation::ValidateAggregatorSpec(c.aggregator()));
  RETURN_IF_ERROR(aggregation::ParseServerOptimizer(c.server_optimizer()).status());
  return c;
}

absl::StatusOr<v1::TaskConfig> ApplyEdit(const v1::TaskConfig& current,
                                         const v1::UpdateTaskRequest& edit) {
  v1::TaskConfig c = current;
  if (edit.has_rounds()) c.set_rounds(edit.rounds());
  if (edit.has_clients_per_round()) c.set_clients_per_round(edit.clients_per_round());
  if (edit.has_round_deadline_ms()) c.set_round_deadline_ms(edit.round_deadline_ms());
  if (edit.has_min_reports()) c.set_min_reports(edit.min_reports());
  if (edit.has_over_selection()) c.set_over_selection(edit.over_selection());
  if (edit.has_eligibility()) *c.mutable_eligibility() = edit.eligibility();
  if (edit.clear_class_quota() && !edit.class_quota().empty()) {
    return absl::InvalidArgumentError("edit: class_quota and clear_class_quota exclude each other");
  }
  if (edit.clear_class_quota()) c.clear_class_quota();
  if (!edit.class_quota().empty()) *c.mutable_class_quota() = edit.class_quota();
  if (edit.has_cooldown_ms()) c.set_cooldown_ms(edit.cooldown_ms());
  if (edit.has_keep_versions()) c.set_keep_versions(edit.keep_versions());
  // Values that validation would default (0) are refused rather than defaulted.
  if ((edit.has_rounds() && edit.rounds() < 1) ||
      (edit.has_clients_per_round() && edit.clients_per_round() < 1) ||
      (edit.has_round_deadline_ms() && edit.round_deadline_ms() < 1) ||
      (edit.has_min_reports() && edit.min_reports() < 1) ||
      (edit.has_over_selection() && edit.over_selection() < 1)) {
    return absl::InvalidArgumentError(
        "edit: rounds, clients_per_round, round_deadline_ms and min_reports must be >= 1, "
        "over_selection >= 1");
  }
  return ValidateTaskConfig(std::move(c));
}

std::string DescribeEdit(const v1::UpdateTaskRequest& edit) {
  std::string out;
  auto add = [&out](absl::string_view k, const auto& v) {
    absl::StrAppend(&out, out.empty() ? "" : " ", k, "=", v);
  };
  if (edit.has_rounds()) add("rounds", edit.rounds());
  if (edit.has_clients_per_round()) add("clients_per_round", edit.clients_per_round());
  if (edit.has_round_deadline_ms()) add("round_deadline_ms", edit.round_deadline_ms());
  if (edit.has_min_reports()) add("min_reports", edit.min_reports());
  if (edit.has_over_selection()) add("over_selection", edit.over_selection());
  if (edit.has_eligibility()) {
    const v1::EligibilityPolicy& e = edit.eligibility();
    add("eligibility", absl::StrCat("charging:", e.require_charging(), ",idle:", e.require_idle(),
                                    ",unmetered:", e.require_unmetered(),
                                    ",min_battery:", e.min_battery_percent()));
  }
  if (edit.clear_class_quota()) add("class_quota", "none");
  for (const auto& [k, v] : std::map<std::string, int>(edit.class_quota().begin(), edit.class_quota().end())) {
    add(absl::StrCat("class_quota[", k, "]"), v);
  }
  if (edit.has_cooldown_ms()) add("cooldown_ms", edit.cooldown_ms());
  if (edit.has_keep_versions()) add("keep_versions", edit.keep_versions());
  return out;
}


std::string VariantFor(const v1::TaskConfig& config, const std::string& device_class,
                       const v1::DeviceCapabilities& device) {
  auto directed = config.variant_by_class().find(device_class);
  if (directed != config.variant_by_class().end()) return directed->second;
  if (!device.has_fpu() || device.ram_bytes() < config.int8_below_ram_bytes()) return "int8";
  const std::string* best = nullptr;
  int64_t best_bound = 0;
  for (const auto& [name, variant] : config.body_variants()) {
    const int64_t bound = variant.below_ram_bytes();
    if (name == "int8" || bound <= 0 || device.ram_bytes() >= bound) continue;
    if (best == nullptr || bound < best_bound || (bound == best_bound && name < *best)) {
      best = &name;
      best_bound = bound;
    }
  }
  return best != nullptr ? *best : "float32";
}

absl::StatusOr<std::vector<std::vector<float>>> InitialHeads(const v1::TaskConfig& config) {
  ASSIGN_OR_RETURN(std::vector<float> head, HeadParams(config.model()));
  std::vector<std::vector<float>> out;
  for (int k = 0; k < std::max(1, config.clusters()); ++k) {
    std::vector<float> h = head;
    if (k > 0) {
      // Each layer's weights get Glorot-normal noise (sigma^2 = 2 / (in + out)),
      // so clusters start as distinct models, as independent initializations
      // would, and devices can tell them apart (IFCA).
      aggregation::SeededRandomSource rng(static_cast<uint64_t>(k));
      size_t at = 0;
      for (const v1::DenseLayer& l : config.model().head()) {
        const size_t w = static_cast<size_t>(l.inputs()) * static_cast<size_t>(l.outputs());
        std::vector<float> noise(w);
        aggregation::FillGaussian(rng, std::sqrt(2.0 / (l.inputs() + l.outputs())),
                                  absl::MakeSpan(noise));
        for (size_t i = 0; i < w; ++i) h[at + i] += noise[i];
        at += w + static_cast<size_t>(l.outputs());
      }
    }
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace fedtiny::coordinator
