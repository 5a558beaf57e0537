// Fuzzes the Admin request handlers (CreateTask and its TaskConfig validation,
// GetTask, Pause/Resume, ListRounds, GetRound, ListModels, Fleet, UpdateTask,
// RollbackModel, PinModel, StopTask, DeleteTask, ListDevices) of a real
// Coordinator on a real store, as operator tools (or a stolen token) would call
// them: the bytes are parsed as the request protos, as coordinator/
// admin_service.cc receives them after authorization.
//
// Input: records of [op: uint8][request: uint16 length + bytes]; op & 15 picks
// the call (8: a device checks in to the last created task and downloads its
// bundles; 9: time moves on; 10-15 the operator's lifecycle calls), bit 4
// replaces the request's task name with the last created task's.
//
// Invariants: error codes are the documented ones, and NOT_FOUND exactly for
// unknown tasks; a created task's stored config is a fixed point of
// ValidateTaskConfig, reads back unchanged and has a finite plan, and so does an
// edited one; its bundles (float32 and int8 variants) download, match their
// SHA-256 and decode; a rollback's new version serves the old model's bytes; a
// deleted task is gone; list limits hold; a restart on the same directory loads
// the same tasks.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>

#include "tests/fuzz/coordinator_fixture.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

namespace fedtiny::fuzz {
namespace {

using absl::StatusCode;
constexpr uint8_t kUseLastTask = 1 << 4;

class AdminSession {
 public:
  explicit AdminSession(CoordinatorFixture& f) : f_(f) {}

  void Run(FuzzInput& in) {
    while (!in.empty()) {
      const uint8_t op = in.Take<uint8_t>();
      const std::string bytes = in.Record();
      switch (op & 15) {  // Bit 4 is a flag.
        case 0:
          CreateTask(bytes);
          break;
        case 1:
          ByName<v1::GetTaskRequest>(bytes, op, [&](const std::string& t) {
            return f_.coordinator().GetTask(t).status();
          });
          break;
        case 2:
          SetPaused(bytes, op, true);
          break;
        case 3:
          SetPaused(bytes, op, false);
          break;
        case 4:
          ListRounds(bytes, op);
          break;
        case 5:
          GetRound(bytes, op);
          break;
        case 6:
          ByName<v1::ListModelsRequest>(bytes, op, [&](const std::string& t) {
            return f_.coordinator().ListModels(t).status();
          });
          break;
        case 7:
          ByName<v1::FleetRequest>(bytes, op, [&](const std::string& t) {
            return f_.coordinator().Fleet(t).status();
          });
          break;
        case 8:
          ProbeLastTask(op & kUseLastTask);
          break;
        case 10:
          UpdateTask(bytes, op);
          break;
        case 11:
          Rollback(bytes, op);
          break;
        case 12:
          Pin(bytes, op);
          break;
        case 13:
          ByName<v1::SetTaskStateRequest>(bytes, op, [&](const std::string& t) {
            absl::StatusOr<v1::TaskInfo> info = f_.coordinator().StopTask(t);
            if (info.ok()) FUZZ_CHECK(info->state() == v1::STOPPED);
            return info.status().code() == StatusCode::kFailedPrecondition ? absl::OkStatus()
                                                                           : info.status();
          });
          break;
        case 14:
          DeleteTask(bytes, op);
          break;
        case 15:
          ListDevices(bytes, op);
          break;
        default:
          f_.clock().Advance(
              absl::Seconds(bytes.empty() ? 1
                                          : static_cast<uint8_t>(bytes[0])) *
              60);
          f_.coordinator().Tick();
      }
    }
  }

  void Audit() {
    std::string before;
    for (const v1::TaskInfo& t : f_.coordinator().ListTasks())
      before += t.config().SerializeAsString();
    FUZZ_CHECK_OK(f_.Restart())
        << "restart after creating " << names_.size() << " task(s)";
    std::string after;
    for (const v1::TaskInfo& t : f_.coordinator().ListTasks())
      after += t.config().SerializeAsString();
    FUZZ_CHECK(before == after) << "a restart changed the task configs";
    FUZZ_CHECK(f_.coordinator().ListTasks().size() == names_.size());
  }

 private:
  // The status of a call on a named task: NOT_FOUND exactly for unknown names.
  void CheckNamed(const std::string& task, const absl::Status& s,
                  std::initializer_list<StatusCode> also = {}) {
    const bool known = names_.count(task) > 0;
    if (!known) {
      FUZZ_CHECK(s.code() == StatusCode::kNotFound)
          << "'" << task << "': " << s;
      return;
    }
    bool allowed = s.ok();
    for (StatusCode c : also) allowed |= s.code() == c;
    FUZZ_CHECK(allowed) << "'" << task << "': " << s;
  }

  template <typename Request, typename Call>
  void ByName(const std::string& bytes, uint8_t op, Call call) {
    Request r;
    if (!r.ParseFromString(bytes)) return;
    if (op & kUseLastTask) r.set_task(last_);
    CheckNamed(r.task(), call(r.task()));
  }

  void CreateTask(const std::string& bytes) {
    v1::CreateTaskRequest r;
    if (!r.ParseFromString(bytes)) return;
    absl::StatusOr<v1::TaskInfo> info = f_.coordinator().CreateTask(r.config());
    if (!info.ok()) {
      FUZZ_CHECK(info.status().code() == StatusCode::kInvalidArgument ||
                 (info.status().code() == StatusCode::kAlreadyExists &&
                  names_.count(r.config().name())))
          << info.status();
      return;
    }
    const v1::TaskConfig& c = info->config();
    FUZZ_CHECK(c.name() == r.config().name() && names_.insert(c.name()).second);
    absl::StatusOr<v1::TaskConfig> again = coordinator::ValidateTaskConfig(c);
    FUZZ_CHECK_OK(again) << "a stored config fails its own validation";
    FUZZ_CHECK(again->SerializeAsString() == c.SerializeAsString())
        << "validating a stored config changes it";
    const v1::Plan& p = c.plan();
    FUZZ_FINDING(
        "AD-2",
        std::isfinite(p.learning_rate()) && std::isfinite(p.momentum()) &&
            std::isfinite(p.proximal_mu()) && std::isfinite(p.clip_norm()),
        "accepted a plan with a non-finite value: " + p.ShortDebugString());
    FUZZ_FINDING("AD-1", c.population().size() <= 64,
                 "accepted a population no device can check in to (CheckIn "
                 "takes <= 64 bytes)");
    absl::StatusOr<v1::TaskInfo> read = f_.coordinator().GetTask(c.name());
    FUZZ_CHECK_OK(read);
    FUZZ_CHECK(read->config().SerializeAsString() == c.SerializeAsString());
    last_ = c.name();
    last_config_ = c;
  }

  void SetPaused(const std::string& bytes, uint8_t op, bool paused) {
    v1::SetTaskStateRequest r;
    if (!r.ParseFromString(bytes)) return;
    if (op & kUseLastTask) r.set_task(last_);
    absl::StatusOr<v1::TaskInfo> info =
        f_.coordinator().SetPaused(r.task(), paused);
    CheckNamed(r.task(), info.status(), {StatusCode::kFailedPrecondition});
    if (info.ok())
      FUZZ_CHECK(info->state() == (paused ? v1::PAUSED : v1::RUNNING));
  }

  void ListRounds(const std::string& bytes, uint8_t op) {
    v1::ListRoundsRequest r;
    if (!r.ParseFromString(bytes)) return;
    if (op & kUseLastTask) r.set_task(last_);
    absl::StatusOr<std::vector<v1::RoundInfo>> out =
        f_.coordinator().ListRounds(r.task(), r.limit());
    CheckNamed(r.task(), out.status());
    if (out.ok() && r.limit() > 0)
      FUZZ_CHECK(static_cast<int>(out->size()) <= r.limit());
  }

  void GetRound(const std::string& bytes, uint8_t op) {
    v1::GetRoundRequest r;
    if (!r.ParseFromString(bytes)) return;
    if (op & kUseLastTask) r.set_task(last_);
    absl::StatusOr<v1::RoundInfo> out =
        f_.coordinator().GetRound(r.task(), r.round());
    if (names_.count(r.task()) == 0 || !out.ok()) {
      FUZZ_CHECK(out.status().code() == StatusCode::kNotFound) << out.status();
      return;
    }
    FUZZ_CHECK(out->round() == r.round() && out->task() == r.task());
  }

  void UpdateTask(const std::string& bytes, uint8_t op) {
    v1::UpdateTaskRequest r;
    if (!r.ParseFromString(bytes)) return;
    if (op & kUseLastTask) r.set_task(last_);
    absl::StatusOr<v1::TaskInfo> info = f_.coordinator().UpdateTask(r);
    CheckNamed(r.task(), info.status(),
               {StatusCode::kInvalidArgument, StatusCode::kFailedPrecondition});
    if (!info.ok()) return;
    const v1::TaskConfig& c = info->config();
    absl::StatusOr<v1::TaskConfig> again = coordinator::ValidateTaskConfig(c);
    FUZZ_CHECK_OK(again) << "an edited config fails its own validation";
    FUZZ_CHECK(again->SerializeAsString() == c.SerializeAsString());
    FUZZ_CHECK(c.name() == r.task());
    absl::StatusOr<v1::TaskInfo> read = f_.coordinator().GetTask(r.task());
    FUZZ_CHECK_OK(read);
    FUZZ_CHECK(read->config().SerializeAsString() == c.SerializeAsString());
    if (r.task() == last_) last_config_ = c;
  }

  void Rollback(const std::string& bytes, uint8_t op) {
    v1::RollbackRequest r;
    if (!r.ParseFromString(bytes)) return;
    if (op & kUseLastTask) r.set_task(last_);
    absl::StatusOr<v1::ModelVersion> v =
        f_.coordinator().RollbackModel(r.task(), r.cluster(), r.to_version());
    CheckNamed(r.task(), v.status(), {StatusCode::kNotFound, StatusCode::kFailedPrecondition});
    if (!v.ok()) return;
    FUZZ_CHECK(v->parent_version() == r.to_version() && v->aggregator() == "rollback");
    absl::StatusOr<v1::GetModelResponse> now = f_.coordinator().GetModel(r.task(), r.cluster(), v->version());
    absl::StatusOr<v1::GetModelResponse> old = f_.coordinator().GetModel(r.task(), r.cluster(), r.to_version());
    FUZZ_CHECK_OK(now);
    FUZZ_CHECK_OK(old);
    FUZZ_CHECK(now->model() == old->model()) << "a rollback serves other bytes";
  }

  void Pin(const std::string& bytes, uint8_t op) {
    v1::PinRequest r;
    if (!r.ParseFromString(bytes)) return;
    if (op & kUseLastTask) r.set_task(last_);
    absl::StatusOr<v1::ModelVersion> v =
        f_.coordinator().PinModel(r.task(), r.cluster(), r.version(), r.pinned());
    CheckNamed(r.task(), v.status(), {StatusCode::kNotFound, StatusCode::kFailedPrecondition});
    if (v.ok()) FUZZ_CHECK(v->pinned() == r.pinned() && v->version() == r.version());
  }

  void DeleteTask(const std::string& bytes, uint8_t op) {
    v1::DeleteTaskRequest r;
    if (!r.ParseFromString(bytes)) return;
    if (op & kUseLastTask) r.set_task(last_);
    const absl::Status s = f_.coordinator().DeleteTask(r.task(), r.confirm());
    if (names_.count(r.task()) == 0) {
      FUZZ_CHECK(s.code() == StatusCode::kNotFound) << s;
      return;
    }
    FUZZ_CHECK(s.ok() == (r.confirm() == r.task())) << s;
    if (!s.ok()) {
      FUZZ_CHECK(s.code() == StatusCode::kInvalidArgument) << s;
      return;
    }
    names_.erase(r.task());
    FUZZ_CHECK(f_.coordinator().GetTask(r.task()).status().code() == StatusCode::kNotFound);
    if (r.task() == last_) last_.clear();
  }

  void ListDevices(const std::string& bytes, uint8_t op) {
    v1::ListDevicesRequest r;
    if (!r.ParseFromString(bytes)) return;
    if (op & kUseLastTask) r.set_task(last_);
    absl::StatusOr<v1::ListDevicesResponse> out = f_.coordinator().ListDevices(r);
    CheckNamed(r.task(), out.status(), {StatusCode::kInvalidArgument});
    if (!out.ok()) return;
    FUZZ_CHECK(out->devices_size() <= 1000 && out->devices_size() <= out->total());
  }

  // What a device of each variant would get from the last created task.
  void ProbeLastTask(bool int8) {
    if (last_.empty()) return;
    absl::StatusOr<v1::TaskInfo> info = f_.coordinator().GetTask(last_);
    FUZZ_CHECK_OK(info);
    if (info->state() != v1::RUNNING || last_config_.population().size() > 64)
      return;
    // Time moves past a round's deadline only when it is short enough to wait
    // for.
    const absl::Duration deadline = std::min(
        absl::Milliseconds(last_config_.round_deadline_ms()), absl::Hours(24));
    // Other running tasks may share the population and take the check-in.
    std::optional<v1::Assignment> a =
        f_.AdmitProbe(last_config_.population(), int8, deadline);
    if (!a || a->task() != last_) return;
    // The shared head alone while the heads warm up (cluster_start "kmeans").
    FUZZ_CHECK(a->bundles_size() == last_config_.clusters() || a->bundles_size() == 1);
    for (const v1::ModelBundle& b : a->bundles()) {
      if (!DownloadAndVerify(f_.coordinator(), *a, b)) return;
    }
  }

  CoordinatorFixture& f_;
  std::set<std::string> names_;
  std::string last_;
  v1::TaskConfig last_config_;
};

}  // namespace
}  // namespace fedtiny::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedtiny::fuzz;
  FuzzInput in(data, size);
  CoordinatorFixture f;
  AdminSession session(f);
  session.Run(in);
  session.Audit();
  return 0;
}
