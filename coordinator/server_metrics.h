// The coordinator's metrics (docs/metrics.md lists every name and label): what
// the Federation service records per call, what round events add up to, and
// the fleet and store figures computed from the Coordinator at scrape time.
#ifndef FEDTINY_COORDINATOR_SERVER_METRICS_H_
#define FEDTINY_COORDINATOR_SERVER_METRICS_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/coordinator.h"
#include "coordinator/metrics.h"
#include "coordinator/telemetry/aggregates.h"
#include "coordinator/telemetry/drift.h"
#include "proto/admin.pb.h"

namespace fedtiny::coordinator {

// Thread-safe. Owns its registry; borrows nothing beyond each call.
class ServerMetrics {
 public:
  ServerMetrics();

  // RecordRpc counts one Federation call: its status code, bytes in and out,
  // and its latency in seconds.
  void RecordRpc(const std::string& method, absl::StatusCode code, size_t received, size_t sent,
                 double seconds);
  // RecordCheckIn counts a check-in by outcome: "assigned", "retry", or the
  // error code in lower case ("invalid_argument", ...).
  void RecordCheckIn(const std::string& outcome);
  // RecordAssignment counts an assignment by task and the model variant it
  // serves ("float32", "int8" or a body variant: docs/models.md).
  void RecordAssignment(const std::string& task, const std::string& variant);
  // RecordUpload counts an upload as accepted, or rejected by a reason named
  // after its status code (UploadRejectReason).
  void RecordUpload(const absl::Status& status);
  // SetReady sets fedtiny_ready.
  void SetReady(bool ready) { ready_->With({})->Set(ready ? 1 : 0); }

  // Expose refreshes the scrape-time gauges from `coordinator` (null while the
  // store loads) and `data_dir` (walked for its size), then writes everything
  // in the Prometheus text format. Blocks on the walk. With `telemetry`, also
  // the fleet view's gauges (fedtiny_telemetry_*) of every task with a spec.
  std::string Expose(Coordinator* coordinator, const std::string& data_dir,
                     telemetry::Aggregates* telemetry = nullptr);

 private:
  // Round counters and open-round gauges from the coordinator's event totals
  // (no thread reads every event: a progress event per upload costs nothing here).
  void CollectRounds(Coordinator& coordinator);
  void CollectFleetAndStore(Coordinator& coordinator);
  void CollectTelemetry(Coordinator& coordinator, telemetry::Aggregates& aggregates);

  MetricsRegistry registry_;
  CounterFamily* const rpcs_;
  CounterFamily* const received_bytes_;
  CounterFamily* const sent_bytes_;
  HistogramFamily* const latency_;
  CounterFamily* const checkins_;
  CounterFamily* const assignments_;
  CounterFamily* const uploads_accepted_;
  CounterFamily* const uploads_rejected_;
  CounterFamily* const rounds_opened_;
  CounterFamily* const rounds_committed_;
  CounterFamily* const rounds_abandoned_;
  CounterFamily* const round_reports_;
  CounterFamily* const round_rejections_;
  GaugeFamily* const open_round_;
  GaugeFamily* const open_round_reported_;
  GaugeFamily* const tasks_;
  GaugeFamily* const fleet_;
  GaugeFamily* const model_versions_;
  GaugeFamily* const model_bytes_;
  GaugeFamily* const data_dir_bytes_;
  GaugeFamily* const ready_;
  GaugeFamily* const telemetry_reports_;
  GaugeFamily* const telemetry_psi_;
  GaugeFamily* const telemetry_jsd_;
  GaugeFamily* const telemetry_alert_;
  GaugeFamily* const telemetry_shift_;
  telemetry::NullPsiTable nulls_;
};

// The reason label of a refused upload, from the code the Coordinator returned
// (the round engine's reasons, as docs/protocol.md maps them to codes).
std::string UploadRejectReason(absl::StatusCode code);

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_SERVER_METRICS_H_
