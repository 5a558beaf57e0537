// Fuzzes the Federation request handlers (CheckIn, Download, Upload,
// ReportFailure) of a real Coordinator on a real store, as a hostile device
// would call them: the bytes are parsed as the request protos, exactly as gRPC
// hands them to coordinator/federation_service.cc.
//
// Input: a setup byte (aggregator, goal, clusters, and bit 3: an asynchronous
// FedBuff task with concurrency goal + 1 and buffer goal), then records of
//   [op: uint8][request: uint16 length + bytes]
// where (op & 7) % 5 picks CheckIn / Download / Upload / ReportFailure / time,
// and higher bits patch the request with the harness's own live assignment
// (task, round, token, cluster, version), so mutations reach the validation
// behind the token check instead of stopping at "unknown task".
//
// Invariants: every error code is one docs/protocol.md lists for that call; a
// request outside the documented limits is refused; an accepted upload has the
// model's size, finite values, a positive example count and a valid cluster;
// after the input, every served bundle (float32 and int8) downloads, matches
// its SHA-256 and decodes to a finite head of the task's shape with the body
// unchanged, the version lineage is consistent, and a restart on the same data
// directory succeeds and serves the same versions.
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <set>

#include "absl/strings/str_cat.h"
#include "tests/fuzz/coordinator_fixture.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

namespace fedtiny::fuzz {
namespace {

constexpr const char* kAggregators[] = {
    "fedavg",   "median",           "trimmed_mean:beta=0.2",
    "krum:f=0", "geometric_median", "norm_bound:c=10+fedavg"};
constexpr int kOps = 5;
enum PatchBits : uint8_t {
  kNewAssignment = 1 << 3,  // Admit a fresh device first; use its assignment.
  kPatchToken = 1 << 4,     // Task, round and upload token of the assignment.
  kPatchModel = 1 << 5,     // Cluster in range and the version it is served at.
};
const absl::Duration kDeadline = absl::Minutes(1);

bool CodeIn(const absl::Status& s,
            std::initializer_list<absl::StatusCode> codes) {
  for (absl::StatusCode c : codes) {
    if (s.code() == c) return true;
  }
  return false;
}

class Session {
 public:
  Session(CoordinatorFixture& f, const v1::TaskConfig& config)
      : f_(f), config_(config) {}

  void Run(FuzzInput& in) {
    while (!in.empty()) {
      const uint8_t op = in.Take<uint8_t>();
      const std::string bytes = in.Record();
      if ((op & kNewAssignment) || !live_)
        live_ = f_.AdmitProbe(config_.population(), false, kDeadline);
      switch ((op & 7) % kOps) {  // Bits 3-5 are flags.
        case 0:
          CheckIn(bytes);
          break;
        case 1:
          Download(bytes, op);
          break;
        case 2:
          Upload(bytes, op);
          break;
        case 3:
          Fail(bytes, op);
          break;
        default:
          f_.clock().Advance(absl::Seconds(
              static_cast<uint8_t>(bytes.empty() ? 0 : bytes[0])));
          f_.coordinator().Tick();
      }
    }
  }

  // False when an open finding (FINDINGS.md) ended the audit early.
  bool Audit();

 private:
  template <typename Request>
  void Patch(Request& r, uint8_t op) {
    if (!live_) return;
    if (op & kPatchToken) {
      r.set_task(live_->task());
      r.set_round(live_->round());
      r.set_upload_token(live_->upload_token());
      if constexpr (std::is_same_v<Request, v1::UploadRequest>) r.set_device_secret(kProbeSecret);
    }
  }

  void CheckIn(const std::string& bytes) {
    v1::CheckInRequest r;
    if (!r.ParseFromString(bytes)) return;
    const bool valid = !r.device_id().empty() && r.device_id().size() <= 128 &&
                       r.state().battery_percent() >= 0 &&
                       r.state().battery_percent() <= 100 &&
                       r.device_class().size() <= 64 &&
                       r.population().size() <= 64 &&
                       r.device_secret().size() >= 16 &&
                       r.device_secret().size() <= 64;
    absl::StatusOr<v1::CheckInResponse> out = f_.coordinator().CheckIn(r);
    if (!valid) {
      FUZZ_CHECK(!out.ok())
          << "a check-in outside the documented limits was served";
    }
    if (!out.ok()) {
      FUZZ_CHECK(CodeIn(out.status(), {absl::StatusCode::kInvalidArgument,
                                       absl::StatusCode::kPermissionDenied,
                                       absl::StatusCode::kUnauthenticated}))
          << out.status();
      return;
    }
    if (out->has_retry()) {
      FUZZ_CHECK(out->retry().earliest_ms() >= 0 &&
                 out->retry().earliest_ms() <= out->retry().latest_ms())
          << out->retry().ShortDebugString();
      return;
    }
    FUZZ_CHECK(out->has_assignment())
        << "a check-in answered with neither outcome";
    const v1::Assignment& a = out->assignment();
    FUZZ_CHECK(a.task() == config_.name() &&
               r.population() == config_.population());
    FUZZ_CHECK(!a.upload_token().empty() && a.round() >= 1);
    FUZZ_CHECK(a.deadline_ms() >= 0 &&
               a.deadline_ms() <= config_.round_deadline_ms());
    // The shared head alone while the heads warm up (cluster_start "kmeans").
    FUZZ_CHECK(a.bundles_size() == config_.clusters() || a.bundles_size() == 1);
    for (int k = 0; k < a.bundles_size(); ++k) {
      FUZZ_CHECK(a.bundles(k).cluster() == k &&
                 a.bundles(k).sha256().size() == 32 &&
                 a.bundles(k).size_bytes() > 0);
    }
  }

  void Download(const std::string& bytes, uint8_t op) {
    v1::DownloadRequest r;
    if (!r.ParseFromString(bytes)) return;
    Patch(r, op);
    absl::StatusOr<v1::DownloadResponse> out = f_.coordinator().Download(r);
    if (!out.ok()) {
      FUZZ_CHECK(CodeIn(
          out.status(),
          {absl::StatusCode::kNotFound, absl::StatusCode::kPermissionDenied,
           absl::StatusCode::kOutOfRange, absl::StatusCode::kInvalidArgument}))
          << out.status();
      return;
    }
    const int64_t limit = r.max_bytes() > 0
                              ? std::min<int64_t>(r.max_bytes(), 4 << 20)
                              : 256 << 10;
    FUZZ_CHECK(out->offset() == r.offset() && r.offset() >= 0);
    FUZZ_CHECK(static_cast<int64_t>(out->data().size()) <= limit);
    FUZZ_CHECK(r.offset() + static_cast<int64_t>(out->data().size()) <=
               out->bundle().size_bytes());
    FUZZ_CHECK(out->bundle().task() == r.task() &&
               out->bundle().cluster() == r.cluster());
  }

  void Upload(const std::string& bytes, uint8_t op) {
    v1::UploadRequest r;
    if (!r.ParseFromString(bytes)) return;
    Patch(r, op);
    if ((op & kPatchModel) && live_) {
      const int cluster = static_cast<int>(static_cast<uint32_t>(r.cluster()) %
                                           live_->bundles_size());
      r.set_cluster(cluster);
      r.set_model_version(live_->bundles(cluster).version());
    }
    const absl::Status s = f_.coordinator().Upload(r);
    if (!s.ok()) {
      FUZZ_CHECK(CodeIn(
          s, {absl::StatusCode::kNotFound, absl::StatusCode::kDeadlineExceeded,
              absl::StatusCode::kPermissionDenied,
              absl::StatusCode::kAlreadyExists,
              absl::StatusCode::kFailedPrecondition,
              absl::StatusCode::kInvalidArgument}))
          << s;
      return;
    }
    const std::optional<std::vector<float>> delta = DecodeDelta(r.delta());
    FUZZ_CHECK(delta && delta->size() == kHeadParams)
        << "accepted a delta of " << r.delta().size() << " bytes";
    FUZZ_CHECK(AllFinite(*delta)) << "accepted a non-finite delta";
    FUZZ_CHECK(r.example_count() > 0 && r.example_count() <= 1'000'000)
        << "accepted example_count " << r.example_count();
    FUZZ_CHECK(r.metrics().size() <= 16) << "accepted " << r.metrics().size() << " metrics";
    FUZZ_CHECK(r.cluster() >= 0 && r.cluster() < config_.clusters());
    FUZZ_CHECK(r.task() == config_.name());
  }

  void Fail(const std::string& bytes, uint8_t op) {
    v1::FailureReport r;
    if (!r.ParseFromString(bytes)) return;
    Patch(r, op);
    const absl::Status s = f_.coordinator().ReportFailure(r);
    FUZZ_CHECK(CodeIn(s, {absl::StatusCode::kOk, absl::StatusCode::kNotFound,
                          absl::StatusCode::kPermissionDenied,
                          absl::StatusCode::kInvalidArgument}))
        << s;
  }

  CoordinatorFixture& f_;
  const v1::TaskConfig& config_;
  std::optional<v1::Assignment> live_;
};

// The served state must be whole after anything a device sent.
bool Session::Audit() {
  f_.CloseDueRounds(kDeadline);
  absl::StatusOr<v1::TaskInfo> info = f_.coordinator().GetTask(config_.name());
  FUZZ_CHECK_OK(info);
  absl::StatusOr<std::vector<v1::RoundInfo>> rounds =
      f_.coordinator().ListRounds(config_.name(), -1);
  FUZZ_CHECK_OK(rounds);
  int committed = 0;
  int64_t newest = 0;
  for (const v1::RoundInfo& r : *rounds) newest = std::max<int64_t>(newest, r.round());
  for (const v1::RoundInfo& r : *rounds) {
    // An asynchronous round has no deadline (it closes at its buffer): the
    // newest may still be open.
    const bool open_async =
        config_.has_async() && r.state() == v1::OPEN && r.round() == newest;
    FUZZ_CHECK(open_async || r.state() == v1::COMMITTED || r.state() == v1::ABANDONED)
        << "round " << r.round() << " still open after its deadline";
    committed += r.state() == v1::COMMITTED;
  }
  FUZZ_CHECK(committed == info->committed_rounds());
  absl::StatusOr<std::vector<v1::ModelVersion>> models =
      f_.coordinator().ListModels(config_.name());
  FUZZ_CHECK_OK(models);
  std::map<int, const v1::ModelVersion*> latest;
  for (const v1::ModelVersion& m : *models) {
    const v1::ModelVersion*& l = latest[m.cluster()];
    FUZZ_CHECK(m.version() == (l == nullptr ? 0 : l->version() + 1))
        << "cluster " << m.cluster() << " lineage skips to version "
        << m.version();
    l = &m;
  }
  FUZZ_CHECK(static_cast<int>(latest.size()) == config_.clusters());
  const std::string body = SmallModel().SerializeAsString();
  for (bool int8 : {false, true}) {
    std::optional<v1::Assignment> a =
        f_.AdmitProbe(config_.population(), int8, kDeadline);
    FUZZ_CHECK(a.has_value()) << "a probe device is never admitted";
    for (const v1::ModelBundle& b : a->bundles()) {
      FUZZ_CHECK(b.variant() == (int8 ? "int8" : "float32"));
      FUZZ_CHECK(b.version() == latest.at(b.cluster())->version())
          << "serving version " << b.version() << " of cluster " << b.cluster();
      std::optional<v1::Model> m = DownloadAndVerify(f_.coordinator(), *a, b);
      if (!m) return false;
      if (!int8) {
        FUZZ_CHECK(m->body_size() == 1 &&
                   m->body(0).SerializeAsString() ==
                       SmallModel().body(0).SerializeAsString())
            << "a device changed the frozen body";
      }
    }
  }
  FUZZ_CHECK_OK(f_.Restart()) << "restart after the input";
  absl::StatusOr<std::vector<v1::ModelVersion>> after =
      f_.coordinator().ListModels(config_.name());
  FUZZ_CHECK_OK(after);
  FUZZ_CHECK(after->size() == models->size())
      << "a restart changed the version list";
  return true;
}

}  // namespace
}  // namespace fedtiny::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedtiny::fuzz;
  FuzzInput in(data, size);
  const uint8_t setup = in.Take<uint8_t>();
  const int goal = 1 + (setup >> 4) % 3;
  const int clusters = 1 + (setup >> 6) % 2;
  CoordinatorFixture f;
  fedtiny::v1::TaskConfig config = SmallTask(
      "fuzz", kAggregators[setup % std::size(kAggregators)], goal, clusters);
  if (setup & 8) {
    config.mutable_async()->set_concurrency(goal + 1);
    config.mutable_async()->set_buffer(goal);
    config.mutable_async()->set_max_staleness(2);
  }
  FUZZ_CHECK_OK(f.coordinator().CreateTask(config));
  Session session(f, config);
  session.Run(in);
  session.Audit();
  return 0;
}
