#include "coordinator/server_metrics.h"

#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "coordinator/telemetry/fleet_view.h"

namespace fedtiny::coordinator {

namespace {

// From 1 ms to 10 s: check-ins take well under a millisecond on loopback, a
// commit-closing upload syncs the store (tens of ms).
const std::vector<double>& LatencyBounds() {
  static const auto* bounds = new std::vector<double>{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
  return *bounds;
}

int64_t DirectoryBytes(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  int64_t total = 0;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      const uintmax_t n = it->file_size(size_ec);
      if (!size_ec) total += static_cast<int64_t>(n);
    }
  }
  return total;
}

}  // namespace

std::string UploadRejectReason(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kNotFound: return "wrong_round";
    case absl::StatusCode::kDeadlineExceeded: return "late";
    case absl::StatusCode::kPermissionDenied: return "bad_token";
    case absl::StatusCode::kAlreadyExists: return "duplicate";
    case absl::StatusCode::kFailedPrecondition: return "stale";
    case absl::StatusCode::kInvalidArgument: return "malformed";
    case absl::StatusCode::kUnavailable: return "unavailable";
    default: return "other";
  }
}

ServerMetrics::ServerMetrics()
    : rpcs_(registry_.AddCounter("fedtiny_rpcs_total",
                                 "Federation calls answered, by method and status code.",
                                 {"method", "code"})),
      received_bytes_(registry_.AddCounter("fedtiny_rpc_received_bytes_total",
                                           "Request bytes received, by Federation method.",
                                           {"method"})),
      sent_bytes_(registry_.AddCounter("fedtiny_rpc_sent_bytes_total",
                                       "Response bytes sent, by Federation method.", {"method"})),
      latency_(registry_.AddHistogram("fedtiny_rpc_duration_seconds",
                                      "Federation call latency in the server, by method.",
                                      {"method"}, LatencyBounds())),
      checkins_(registry_.AddCounter(
          "fedtiny_checkins_total",
          "Check-ins by outcome: assigned, retry, or the error code in lower case.", {"outcome"})),
      assignments_(registry_.AddCounter(
          "fedtiny_assignments_total",
          "Assignments by task and the model variant served (float32, int8, a body variant).",
          {"task", "variant"})),
      uploads_accepted_(
          registry_.AddCounter("fedtiny_uploads_accepted_total", "Uploads accepted.")),
      uploads_rejected_(registry_.AddCounter(
          "fedtiny_uploads_rejected_total",
          "Uploads refused, by reason (named after the status code returned).", {"reason"})),
      rounds_opened_(registry_.AddCounter("fedtiny_rounds_opened_total", "Rounds opened.",
                                          {"task"})),
      rounds_committed_(registry_.AddCounter("fedtiny_rounds_committed_total",
                                             "Rounds committed.", {"task"})),
      rounds_abandoned_(registry_.AddCounter("fedtiny_rounds_abandoned_total",
                                             "Rounds abandoned.", {"task"})),
      round_reports_(registry_.AddCounter("fedtiny_round_reports_total",
                                          "Reports counted in closed rounds.", {"task"})),
      round_rejections_(registry_.AddCounter(
          "fedtiny_round_rejections_total",
          "Uploads refused, as closed rounds counted them (the round engine's reasons).",
          {"task", "reason"})),
      open_round_(registry_.AddGauge("fedtiny_open_round",
                                     "The open round's number (0: none open).", {"task"})),
      open_round_reported_(registry_.AddGauge("fedtiny_open_round_reported",
                                              "Reports so far in the open round.", {"task"})),
      tasks_(registry_.AddGauge("fedtiny_tasks", "Tasks by state.", {"state"})),
      fleet_(registry_.AddGauge("fedtiny_fleet_devices",
                                "Devices seen, by task, device class and last state.",
                                {"task", "device_class", "state"})),
      model_versions_(registry_.AddGauge("fedtiny_model_versions",
                                         "Model versions stored, by task.", {"task"})),
      model_bytes_(registry_.AddGauge("fedtiny_model_bytes",
                                      "Bytes of the model versions stored, by task.", {"task"})),
      data_dir_bytes_(registry_.AddGauge("fedtiny_data_dir_bytes",
                                         "Bytes of the files in the data directory.")),
      ready_(registry_.AddGauge("fedtiny_ready",
                                "1 when the store is loaded and the data directory writable.")),
      telemetry_reports_(registry_.AddGauge(
          "fedtiny_telemetry_reports", "Telemetry reports counted, over the retained windows.",
          {"task", "version", "class"})),
      telemetry_psi_(registry_.AddGauge(
          "fedtiny_telemetry_psi", "PSI of a probe's estimate against its reference.",
          {"task", "version", "class", "probe"})),
      telemetry_jsd_(registry_.AddGauge(
          "fedtiny_telemetry_jsd", "Jensen-Shannon divergence (bits) against the reference.",
          {"task", "version", "class", "probe"})),
      telemetry_alert_(registry_.AddGauge(
          "fedtiny_telemetry_alert",
          "Drift alert: 0 insufficient data, 1 stable, 2 moderate, 3 drift.",
          {"task", "version", "class", "probe"})),
      telemetry_shift_(registry_.AddGauge(
          "fedtiny_telemetry_shift",
          "1 when a probe's PSI is beyond what privacy noise explains (docs/observability.md).",
          {"task", "version", "class", "probe"})) {
  ready_->With({})->Set(0);
}

void ServerMetrics::RecordRpc(const std::string& method, absl::StatusCode code, size_t received,
                              size_t sent, double seconds) {
  rpcs_->With({method, absl::StatusCodeToString(code)})->Add(1);
  received_bytes_->With({method})->Add(static_cast<double>(received));
  sent_bytes_->With({method})->Add(static_cast<double>(sent));
  latency_->With({method})->Observe(seconds);
}

void ServerMetrics::RecordCheckIn(const std::string& outcome) {
  checkins_->With({outcome})->Add(1);
}

void ServerMetrics::RecordAssignment(const std::string& task, const std::string& variant) {
  assignments_->With({task, variant})->Add(1);
}

void ServerMetrics::RecordUpload(const absl::Status& status) {
  if (status.ok()) {
    uploads_accepted_->With({})->Add(1);
  } else {
    uploads_rejected_->With({UploadRejectReason(status.code())})->Add(1);
  }
}

void ServerMetrics::CollectRounds(Coordinator& coordinator) {
  // Monotonic totals kept by the event log: the counters are set to them.
  for (const auto& [task, t] : coordinator.RoundEventTotals()) {
    rounds_opened_->With({task})->Set(static_cast<double>(t.opened));
    rounds_committed_->With({task})->Set(static_cast<double>(t.committed));
    rounds_abandoned_->With({task})->Set(static_cast<double>(t.abandoned));
    round_reports_->With({task})->Set(static_cast<double>(t.reports));
    for (const auto& [reason, n] : t.rejections) {
      round_rejections_->With({task, reason})->Set(static_cast<double>(n));
    }
    open_round_->With({task})->Set(static_cast<double>(t.open_round));
    open_round_reported_->With({task})->Set(static_cast<double>(t.open_reported));
  }
}

void ServerMetrics::CollectFleetAndStore(Coordinator& coordinator) {
  std::vector<std::pair<LabelValues, double>> tasks, fleet, versions, bytes;
  for (const v1::TaskInfo& t : coordinator.ListTasks()) {
    const std::string& name = t.config().name();
    tasks.push_back({{absl::AsciiStrToLower(v1::TaskState_Name(t.state()))}, 1});
    if (absl::StatusOr<v1::FleetResponse> f = coordinator.Fleet(name); f.ok()) {
      for (const v1::FleetCount& c : f->counts()) {
        fleet.push_back({{name, c.device_class(), c.state()}, static_cast<double>(c.devices())});
      }
    }
    if (absl::StatusOr<std::vector<v1::ModelVersion>> m = coordinator.ListModels(name); m.ok()) {
      double total = 0;
      for (const v1::ModelVersion& v : *m) total += static_cast<double>(v.size_bytes());
      versions.push_back({{name}, static_cast<double>(m->size())});
      bytes.push_back({{name}, total});
    }
  }
  tasks_->ReplaceAll(tasks);
  fleet_->ReplaceAll(fleet);
  model_versions_->ReplaceAll(versions);
  model_bytes_->ReplaceAll(bytes);
}

namespace {

double AlertValue(const std::string& alert) {
  if (alert == "drift") return 3;
  if (alert == "moderate") return 2;
  if (alert == "stable") return 1;
  return 0;
}

}  // namespace

void ServerMetrics::CollectTelemetry(Coordinator& coordinator, telemetry::Aggregates& aggregates) {
  std::vector<std::pair<LabelValues, double>> reports, psi, jsd, alert, shift;
  for (const v1::TaskInfo& t : coordinator.ListTasks()) {
    if (!t.config().has_telemetry()) continue;
    const std::string& task = t.config().name();
    const v1::TelemetryViewResponse view =
        telemetry::BuildView(t.config().telemetry(), aggregates.Snapshot(task), 0, nulls_);
    for (const v1::TelemetryGroup& g : view.groups()) {
      const std::string version = absl::StrCat(g.model_version());
      reports.push_back({{task, version, g.device_class()}, static_cast<double>(g.reports())});
      for (const v1::ProbeView& p : g.probes()) {
        if (p.alert().empty()) continue;
        const LabelValues labels = {task, version, g.device_class(), p.probe()};
        psi.push_back({labels, p.psi()});
        jsd.push_back({labels, p.jsd()});
        alert.push_back({labels, AlertValue(p.alert())});
        shift.push_back({labels, p.shift() ? 1.0 : 0.0});
      }
    }
  }
  telemetry_reports_->ReplaceAll(reports);
  telemetry_psi_->ReplaceAll(psi);
  telemetry_jsd_->ReplaceAll(jsd);
  telemetry_alert_->ReplaceAll(alert);
  telemetry_shift_->ReplaceAll(shift);
}

std::string ServerMetrics::Expose(Coordinator* coordinator, const std::string& data_dir,
                                  telemetry::Aggregates* telemetry) {
  if (coordinator != nullptr) {
    CollectRounds(*coordinator);
    CollectFleetAndStore(*coordinator);
    if (telemetry != nullptr) CollectTelemetry(*coordinator, *telemetry);
  }
  data_dir_bytes_->With({})->Set(static_cast<double>(DirectoryBytes(data_dir)));
  return registry_.Expose();
}

}  // namespace fedtiny::coordinator
