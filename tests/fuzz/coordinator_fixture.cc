#include "tests/fuzz/coordinator_fixture.h"

#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "coordinator/sqlite_store.h"
#include "proto/model_codec.h"
#include "tests/fuzz/fuzz_check.h"
#include "tools/base/logging.h"
#include "tools/base/sha256.h"

namespace fedtiny::fuzz {

namespace {

std::string MakeTempDir() {
  const char* base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : nullptr;
  if (base == nullptr) base = getenv("TEST_TMPDIR");
  if (base == nullptr) base = "/tmp";
  std::string templ = absl::StrCat(base, "/fedtiny-fuzz-XXXXXX");
  FUZZ_CHECK(mkdtemp(templ.data()) != nullptr)
      << "cannot create a temporary directory";
  return templ;
}

absl::StatusOr<std::unique_ptr<coordinator::Coordinator>> Start(
    const std::string& dir, const coordinator::Clock* clock,
    aggregation::RandomSource* random) {
  absl::StatusOr<std::unique_ptr<coordinator::SqliteStore>> store =
      coordinator::SqliteStore::Open(dir);
  if (!store.ok()) return store.status();
  return coordinator::Coordinator::Create(*std::move(store), clock, random);
}

v1::DenseLayer Layer(int in, int out, bool relu, float scale) {
  v1::DenseLayer l;
  l.set_inputs(in);
  l.set_outputs(out);
  l.set_relu(relu);
  l.mutable_weights()->add_shape(out);
  l.mutable_weights()->add_shape(in);
  for (int i = 0; i < in * out; ++i) {
    l.mutable_weights()->add_values(scale * static_cast<float>((i % 7) - 3));
  }
  for (int o = 0; o < out; ++o)
    l.mutable_bias()->add_values(0.01f * static_cast<float>(o));
  return l;
}

}  // namespace

CoordinatorFixture::CoordinatorFixture()
    : dir_(MakeTempDir()),
      clock_(absl::FromUnixSeconds(1'700'000'000)),
      random_(7) {
  // Thousands of inputs a second: keep the coordinator's INFO and WARNING lines
  // (rounds opened, abandoned at restart) out of the log unless asked for.
  if (getenv("FEDTINY_MIN_LOG_LEVEL") == nullptr) {
    logging::SetMinSeverity(logging::Severity::kError);
  }
  absl::StatusOr<std::unique_ptr<coordinator::Coordinator>> c =
      Start(dir_, &clock_, &random_);
  FUZZ_CHECK_OK(c) << "an empty data directory must start";
  coordinator_ = *std::move(c);
}

CoordinatorFixture::~CoordinatorFixture() {
  coordinator_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

absl::Status CoordinatorFixture::Restart() {
  coordinator_.reset();
  absl::StatusOr<std::unique_ptr<coordinator::Coordinator>> c =
      Start(dir_, &clock_, &random_);
  if (!c.ok()) return c.status();
  coordinator_ = *std::move(c);
  return absl::OkStatus();
}

void CoordinatorFixture::CloseDueRounds(absl::Duration deadline) {
  clock_.Advance(deadline + absl::Seconds(1));
  coordinator_->Tick();
}

std::optional<v1::Assignment> CoordinatorFixture::AdmitProbe(
    const std::string& population, bool int8, absl::Duration deadline) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    v1::CheckInRequest r;
    r.set_device_id(absl::StrCat("probe-", ++probes_));
    r.set_device_secret(kProbeSecret);
    r.set_population(population);
    r.set_device_class("phone");
    r.mutable_capabilities()->set_ram_bytes(int64_t{8} << 30);
    r.mutable_capabilities()->set_has_fpu(!int8);
    r.mutable_capabilities()->set_supports_int8(true);
    r.mutable_state()->set_charging(true);
    r.mutable_state()->set_idle(true);
    r.mutable_state()->set_unmetered_network(true);
    r.mutable_state()->set_battery_percent(100);
    absl::StatusOr<v1::CheckInResponse> out = coordinator_->CheckIn(r);
    FUZZ_CHECK_OK(out) << "a well-formed check-in";
    if (out->has_assignment()) return out->assignment();
    CloseDueRounds(deadline);
  }
  return std::nullopt;
}

v1::Model SmallModel() {
  v1::Model m;
  m.set_input_dim(4);
  *m.add_body() = Layer(4, 3, /*relu=*/true, 0.1f);
  *m.add_head() = Layer(3, 2, /*relu=*/false, 0.05f);
  return m;
}

v1::TaskConfig SmallTask(const std::string& name, const std::string& aggregator,
                         int goal, int clusters) {
  v1::TaskConfig c;
  c.set_name(name);
  c.set_population(name);
  *c.mutable_model() = SmallModel();
  c.mutable_plan()->set_epochs(1);
  c.mutable_plan()->set_batch_size(4);
  c.mutable_plan()->set_learning_rate(0.1f);
  c.set_rounds(1'000'000);
  c.set_clients_per_round(goal);
  c.set_over_selection(1.0);
  c.set_min_reports(1);
  c.set_round_deadline_ms(60'000);
  c.set_aggregator(aggregator);
  c.set_server_optimizer("sgd");
  c.set_clusters(clusters);
  c.mutable_eligibility()->set_min_battery_percent(0);  // Present: no defaults.
  return c;
}

std::optional<v1::Model> DownloadAndVerify(coordinator::Coordinator& c,
                                           const v1::Assignment& a,
                                           const v1::ModelBundle& bundle) {
  std::string bytes;
  while (static_cast<int64_t>(bytes.size()) < bundle.size_bytes()) {
    v1::DownloadRequest r;
    r.set_task(a.task());
    r.set_round(a.round());
    r.set_upload_token(a.upload_token());
    r.set_cluster(bundle.cluster());
    r.set_variant(bundle.variant());
    r.set_offset(static_cast<int64_t>(bytes.size()));
    r.set_max_bytes(1000);
    absl::StatusOr<v1::DownloadResponse> out = c.Download(r);
    FUZZ_CHECK_OK(out) << "downloading an assigned bundle at offset "
                       << bytes.size();
    FUZZ_CHECK(out->offset() == r.offset() && !out->data().empty() &&
               out->data().size() <= 1000);
    FUZZ_CHECK(out->bundle().SerializeAsString() == bundle.SerializeAsString())
        << "the bundle changed during the download";
    bytes += out->data();
  }
  FUZZ_CHECK(static_cast<int64_t>(bytes.size()) == bundle.size_bytes());
  absl::StatusOr<Sha256Digest> d = Sha256(bytes);
  FUZZ_CHECK_OK(d);
  FUZZ_CHECK(bundle.sha256() ==
             std::string(reinterpret_cast<const char*>(d->data()), d->size()))
      << "served bytes do not match the announced SHA-256";
  v1::Model m;
  FUZZ_CHECK(m.ParseFromString(bytes)) << "a served bundle is not a Model";
  const absl::Status body = ValidateBody(m);  // What BodyFromProto checks.
  if (!FUZZ_FINDING(
          "MC-1", body.ok() || bundle.variant() != "int8",
          "served an int8 body that does not decode: " + body.ToString())) {
    return std::nullopt;
  }
  FUZZ_CHECK_OK(body) << "served body (variant " << bundle.variant() << ")";
  bool finite = true;
  for (const v1::DenseLayer& l : m.head()) {
    for (float v : l.weights().values()) finite &= std::isfinite(v);
    for (float v : l.bias().values()) finite &= std::isfinite(v);
  }
  if (!FUZZ_FINDING(
          "I9-1", finite,
          absl::StrCat("served a non-finite head (cluster ", bundle.cluster(),
                       ", version ", bundle.version(), ")"))) {
    return std::nullopt;
  }
  absl::StatusOr<std::vector<float>> head = HeadParams(m);
  FUZZ_CHECK_OK(head) << "served head (cluster " << bundle.cluster()
                      << ", version " << bundle.version() << ")";
  FUZZ_CHECK(AllFinite(*head));
  return m;
}

bool AllFinite(const std::vector<float>& v) {
  for (float x : v) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

std::optional<std::vector<float>> DecodeDelta(const std::string& bytes) {
  if (bytes.size() % 4 != 0) return std::nullopt;
  std::vector<float> out(bytes.size() / 4);
  for (size_t i = 0; i < out.size(); ++i) {
    uint32_t u = 0;
    for (int b = 3; b >= 0; --b)
      u = (u << 8) | static_cast<uint8_t>(bytes[4 * i + b]);
    std::memcpy(&out[i], &u, 4);
  }
  return out;
}

}  // namespace fedtiny::fuzz
