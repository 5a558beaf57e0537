// Fuzzes what the coordinator reads back from its store at start-up and at each
// round close: stored task configs, model blobs, server optimizer states and
// round records (Coordinator::Create -> LoadTask, RoundEngine).
//
// Input: [mode: uint8] then
//  mode even: an in-memory Store holding one task whose rows come from the
//    input: [config record][state: uint8][n versions: uint8] n x ([cluster:
//    uint8][version: int64][model record][optimizer state record]) [n rounds:
//    uint8] n x ([round: int64][state: uint8][info record]). Bytes reach the
//    parsers as if the store's own checks (SHA-256 of blobs) had passed: an
//    older or buggy coordinator could have written them.
//  mode odd: a real SqliteStore whose task blob is overwritten with the rest of
//    the input (a bit flip, a truncation, a foreign file), then a restart.
//
// Invariants: start-up returns OK or an error status, never crashes; after an
// OK start-up every running task serves bundles that download, match their
// SHA-256 and decode to a finite head, its rounds and versions list, and a
// round closed with one well-formed update (which restores the stored optimizer
// state) again serves a finite head. With SqliteStore, an altered blob is never
// served: start-up fails with DATA_LOSS or serves only verified models.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/synchronization/mutex.h"
#include "coordinator/store.h"
#include "proto/model_codec.h"
#include "tests/fuzz/coordinator_fixture.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

namespace fedtiny::fuzz {
namespace {

using coordinator::RoundRow;
using coordinator::TaskRow;
using coordinator::VersionRow;

// Serves fixed rows and records writes. Thread-safe.
class RowStore final : public coordinator::Store {
 public:
  RowStore(TaskRow task, std::vector<VersionRow> versions,
           std::vector<RoundRow> rounds)
      : task_(std::move(task)),
        versions_(std::move(versions)),
        rounds_(std::move(rounds)) {}

  absl::Status CreateTask(const TaskRow&,
                          const std::vector<VersionRow>&) override {
    return absl::UnimplementedError("fixed rows");
  }
  absl::Status SetTaskState(const std::string&, int state) override {
    absl::MutexLock l(&mu_);
    task_.state = state;
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<TaskRow>> Tasks() override {
    absl::MutexLock l(&mu_);
    return std::vector<TaskRow>{task_};
  }
  absl::Status OpenRound(const RoundRow& round) override {
    absl::MutexLock l(&mu_);
    rounds_.push_back(round);
    return absl::OkStatus();
  }
  absl::Status CloseRound(const RoundRow& round,
                          const std::vector<VersionRow>& versions) override {
    absl::MutexLock l(&mu_);
    for (const VersionRow& v : versions) {
      for (const VersionRow& have : versions_) {
        if (have.cluster == v.cluster && have.version == v.version) {
          return absl::AlreadyExistsError("version exists");
        }
      }
    }
    rounds_.push_back(round);
    versions_.insert(versions_.end(), versions.begin(), versions.end());
    return absl::OkStatus();
  }
  absl::StatusOr<int> CollectGarbage() override { return 0; }
  absl::Status CommitVersions(const std::vector<VersionRow>& versions) override {
    absl::MutexLock l(&mu_);
    for (const VersionRow& v : versions) {
      for (const VersionRow& have : versions_) {
        if (have.cluster == v.cluster && have.version == v.version) {
          return absl::AlreadyExistsError("version exists");
        }
      }
    }
    versions_.insert(versions_.end(), versions.begin(), versions.end());
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> ReadBlob(const VersionRow& version) override {
    absl::MutexLock l(&mu_);
    for (const VersionRow& v : versions_) {
      if (v.task == version.task && v.cluster == version.cluster && v.version == version.version) {
        return v.model;  // As if its SHA-256 had matched.
      }
    }
    return absl::DataLossError("no such blob");
  }
  absl::Status CheckIntegrity() override { return absl::OkStatus(); }
  absl::StatusOr<int> AbandonOpenRounds(int64_t) override {
    absl::MutexLock l(&mu_);
    int n = 0;
    for (RoundRow& r : rounds_) {
      if (r.state == coordinator::RoundState::kOpen)
        r.state = coordinator::RoundState::kAbandoned, ++n;
    }
    return n;
  }
  absl::StatusOr<std::vector<RoundRow>> Rounds(const std::string& task,
                                               int limit) override {
    absl::MutexLock l(&mu_);
    std::vector<RoundRow> out;
    for (auto it = rounds_.rbegin(); it != rounds_.rend(); ++it) {
      if (it->task == task &&
          (limit <= 0 || static_cast<int>(out.size()) < limit))
        out.push_back(*it);
    }
    return out;
  }
  absl::StatusOr<int64_t> LastRound(const std::string& task) override {
    absl::MutexLock l(&mu_);
    int64_t last = 0;
    for (const RoundRow& r : rounds_) {
      if (r.task == task) last = std::max(last, r.round);
    }
    return last;
  }
  absl::StatusOr<std::vector<VersionRow>> Versions(
      const std::string& task) override {
    absl::MutexLock l(&mu_);
    std::vector<VersionRow> out;
    for (const VersionRow& v : versions_) {
      if (v.task == task) out.push_back(v);
    }
    return out;
  }
  absl::StatusOr<std::vector<VersionRow>> LatestVersions(
      const std::string& task) override {
    absl::MutexLock l(&mu_);
    std::map<int, VersionRow> latest;
    for (const VersionRow& v : versions_) {
      if (v.task != task) continue;
      auto it = latest.find(v.cluster);
      if (it == latest.end() || it->second.version < v.version)
        latest[v.cluster] = v;
    }
    std::vector<VersionRow> out;
    for (auto& [cluster, v] : latest) out.push_back(v);
    return out;
  }
  // The operator's calls: not reached from start-up, which is what this fuzzes.
  absl::Status UpdateTaskConfig(const std::string&, const std::string&) override {
    return absl::UnimplementedError("fixed rows");
  }
  absl::Status DeleteTask(const std::string&) override {
    return absl::UnimplementedError("fixed rows");
  }
  absl::Status SetPinned(const std::string&, int32_t, int64_t, bool) override {
    return absl::UnimplementedError("fixed rows");
  }
  absl::StatusOr<int> Prune(const std::string&, int) override { return 0; }
  absl::StatusOr<coordinator::StorageUse> Usage() override { return coordinator::StorageUse{}; }
  absl::Status AppendAudit(coordinator::AuditRow&) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<coordinator::AuditRow>> Audit(const std::string&, int) override {
    return std::vector<coordinator::AuditRow>{};
  }

 private:
  absl::Mutex mu_;
  TaskRow task_ ABSL_GUARDED_BY(mu_);
  std::vector<VersionRow> versions_ ABSL_GUARDED_BY(mu_);
  std::vector<RoundRow> rounds_ ABSL_GUARDED_BY(mu_);
};

// What a device sees of `task` after start-up, and after one more round.
void CheckServes(coordinator::Coordinator& c, coordinator::FakeClock& clock,
                 const v1::TaskInfo& t) {
  FUZZ_CHECK_OK(c.ListRounds(t.config().name(), -1));
  FUZZ_CHECK_OK(c.ListModels(t.config().name()));
  if (t.state() != v1::RUNNING) return;
  for (int pass = 0; pass < 2; ++pass) {
    v1::CheckInRequest r;
    r.set_device_id("probe-" + std::to_string(pass));
    r.set_device_secret(kProbeSecret);
    r.set_population(t.config().population());
    r.mutable_capabilities()->set_has_fpu(true);
    r.mutable_capabilities()->set_ram_bytes(int64_t{8} << 30);
    r.mutable_state()->set_charging(true);
    r.mutable_state()->set_idle(true);
    r.mutable_state()->set_unmetered_network(true);
    r.mutable_state()->set_battery_percent(100);
    absl::StatusOr<v1::CheckInResponse> out = c.CheckIn(r);
    FUZZ_CHECK_OK(out);
    if (!out->has_assignment()) return;
    const v1::Assignment& a = out->assignment();
    std::vector<float> head;
    for (const v1::ModelBundle& b : a.bundles()) {
      std::optional<v1::Model> m = DownloadAndVerify(c, a, b);
      if (!m) return;
      head = *HeadParams(*m);
    }
    if (pass == 1 || a.bundles_size() == 0) return;
    // One small well-formed update; the round then closes (goal or deadline).
    v1::UploadRequest u;
    u.set_task(a.task());
    u.set_round(a.round());
    u.set_upload_token(a.upload_token());
    u.set_device_secret(kProbeSecret);
    u.set_cluster(0);
    u.set_model_version(a.bundles(0).version());
    u.set_example_count(10);
    std::vector<float> delta(head.size(), 0.01f);
    u.set_delta(std::string(reinterpret_cast<const char*>(delta.data()),
                            delta.size() * 4));
    (void)c.Upload(u);
    const int64_t deadline_ms =
        std::min<int64_t>(t.config().round_deadline_ms(), 86'400'000);
    clock.Advance(absl::Milliseconds(deadline_ms) + absl::Seconds(1));
    c.Tick();
  }
}

void FuzzRows(FuzzInput& in, CoordinatorFixture& f) {
  TaskRow task{"fuzz", in.Record(), 0, 1};
  task.state = in.Take<uint8_t>() % 4;
  std::vector<VersionRow> versions;
  for (int n = in.Take<uint8_t>() % 4; n > 0; --n) {
    VersionRow v;
    v.task = "fuzz";
    v.cluster = in.Take<uint8_t>() % 4;
    v.version = in.Take<int64_t>();
    v.model = in.Record();
    v.optimizer_state = in.Record();
    v.size_bytes = static_cast<int64_t>(v.model.size());
    versions.push_back(std::move(v));
  }
  std::vector<RoundRow> rounds;
  for (int n = in.Take<uint8_t>() % 4; n > 0; --n) {
    RoundRow r;
    r.task = "fuzz";
    r.round = in.Take<int64_t>();
    r.state = static_cast<coordinator::RoundState>(1 + in.Take<uint8_t>() % 3);
    r.info = in.Record();
    rounds.push_back(std::move(r));
  }
  // ST-1: start-up trusts the stored config; an invalid one can abort it (an
  // Eigen assertion quantizing an empty body layer).
  v1::TaskConfig stored;
  const bool parsed = stored.ParseFromString(task.config);
  absl::StatusOr<v1::TaskConfig> valid =
      coordinator::ValidateTaskConfig(stored);
  if (SkipOpenFinding("ST-1",
                      parsed && (!valid.ok() || stored.name() != task.name),
                      "start-up loads an invalid stored config")) {
    return;
  }
  aggregation::SeededRandomSource random(3);
  absl::StatusOr<std::unique_ptr<coordinator::Coordinator>> c =
      coordinator::Coordinator::Create(
          std::make_unique<RowStore>(task, versions, rounds), &f.clock(),
          &random);
  if (!c.ok()) return;  // A clear refusal to start is allowed here.
  for (const v1::TaskInfo& t : (*c)->ListTasks()) {
    // What CreateTask guaranteed must hold for what start-up loads.
    absl::StatusOr<v1::TaskConfig> valid =
        coordinator::ValidateTaskConfig(t.config());
    if (!FUZZ_FINDING(
            "ST-1",
            (*c)->GetTask(t.config().name()).ok() && valid.ok() &&
                valid->SerializeAsString() == t.config().SerializeAsString(),
            "loaded a stored config that is invalid or names another task")) {
      return;
    }
    CheckServes(**c, f.clock(), t);
  }
}

void FuzzBlob(FuzzInput& in, CoordinatorFixture& f) {
  const v1::TaskConfig config = SmallTask("fuzz", "fedavg", 1, 1);
  FUZZ_CHECK_OK(f.coordinator().CreateTask(config));
  const std::string bytes = in.Rest();
  std::string original;
  for (const auto& e :
       std::filesystem::directory_iterator(f.dir() + "/blobs")) {
    std::ifstream in_file(e.path(), std::ios::binary);
    original.assign(std::istreambuf_iterator<char>(in_file), {});
    std::ofstream(e.path(), std::ios::binary | std::ios::trunc) << bytes;
  }
  const absl::Status s = f.Restart();
  if (bytes == original) {
    FUZZ_CHECK_OK(s) << "an untouched store does not start";
  }
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == absl::StatusCode::kDataLoss) << s;
    return;
  }
  // Started: only the model as committed may be served.
  std::optional<v1::Assignment> a =
      f.AdmitProbe(config.population(), false, absl::Minutes(1));
  FUZZ_CHECK(a.has_value());
  std::optional<v1::Model> m =
      DownloadAndVerify(f.coordinator(), *a, a->bundles(0));
  if (!m) return;
  FUZZ_CHECK(*HeadParams(*m) == *HeadParams(config.model()))
      << "an altered blob is served";
}

}  // namespace
}  // namespace fedtiny::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedtiny::fuzz;
  FuzzInput in(data, size);
  const uint8_t mode = in.Take<uint8_t>();
  CoordinatorFixture f;
  if (mode % 2 == 0) {
    FuzzRows(in, f);
  } else {
    FuzzBlob(in, f);
  }
  return 0;
}
