// Consent: off by default, granted and withdrawn with the recorder following,
// persisted with mode 0600 across a restart, deleted with the data.
#include "client/telemetry/consent.h"

#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "client/telemetry/private_storage.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::client::telemetry {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + name;
}

struct Device {
  Device()
      : clock(absl::FromUnixSeconds(1'800'000'000)),
        rng(MakeSeededRandomness(1)) {
    RecorderOptions o;
    o.ring_windows = 2;
    recorder = *Recorder::Create(o, clock, *rng);
    fedtiny::telemetry::TelemetrySpec spec;
    auto* p = spec.add_probes();
    p->set_name("train");
    p->set_kind(fedtiny::telemetry::TRAINING_LATENCY_US);
    p->mutable_binning()->add_edges(0);
    p->mutable_binning()->add_edges(10);
    p->mutable_binning()->add_edges(100);
    p->set_epsilon(1);
    EXPECT_THAT(recorder->SetSpec(spec), IsOk());
  }
  FakeClock clock;
  std::unique_ptr<Randomness> rng;
  std::unique_ptr<Recorder> recorder;
  PrivateFileStorage storage;
};

TEST(ConsentTest, OffByDefault) {
  Device d;
  auto consent =
      *Consent::Open(d.storage, TempPath("none"), d.clock, *d.recorder);
  EXPECT_FALSE(consent->granted());
  EXPECT_FALSE(d.recorder->enabled());
  d.recorder->RecordTrainingStep(5);
  EXPECT_TRUE(d.recorder->Summaries().empty());
}

TEST(ConsentTest, GrantedWithdrawnAndPersistedWithMode0600) {
  const std::string path = TempPath("consent");
  const mode_t old_umask = umask(0);  // Even a permissive umask gives 0600.
  {
    Device d;
    auto consent = *Consent::Open(d.storage, path, d.clock, *d.recorder);
    EXPECT_THAT(consent->Grant("", "latency", "v1"),
                StatusIs(absl::StatusCode::kInvalidArgument));
    ASSERT_THAT(
        consent->Grant("model quality and speed", "latency,memory", "v1"),
        IsOk());
    EXPECT_TRUE(d.recorder->enabled());
    d.recorder->RecordTrainingStep(5);
    EXPECT_EQ(d.recorder->Summaries().size(), 1u);
  }
  umask(old_umask);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Device d;  // A restart.
  auto consent = *Consent::Open(d.storage, path, d.clock, *d.recorder);
  EXPECT_TRUE(consent->granted());
  EXPECT_TRUE(d.recorder->enabled());
  EXPECT_EQ(consent->record().purpose(), "model quality and speed");
  EXPECT_EQ(consent->record().scope(), "latency,memory");
  EXPECT_EQ(consent->record().version(), "v1");
  EXPECT_EQ(consent->record().time_unix_s(), 1'800'000'000);
  d.clock.Advance(absl::Seconds(60));
  ASSERT_THAT(consent->Withdraw(), IsOk());
  EXPECT_FALSE(d.recorder->enabled());
  d.recorder->RecordTrainingStep(5);
  EXPECT_TRUE(d.recorder->Summaries().empty());  // Nothing recorded after.
  Device again;
  auto reopened =
      *Consent::Open(again.storage, path, again.clock, *again.recorder);
  EXPECT_FALSE(reopened->granted());
  EXPECT_FALSE(again.recorder->enabled());
  EXPECT_EQ(reopened->record().time_unix_s(), 1'800'000'060);
  EXPECT_EQ(reopened->record().version(),
            "v1");  // What was withdrawn stays viewable.
}

TEST(ConsentTest, DeleteWithDataErasesWindowsAndRecord) {
  const std::string path = TempPath("consent_delete");
  Device d;
  auto consent = *Consent::Open(d.storage, path, d.clock, *d.recorder);
  ASSERT_THAT(consent->Grant("quality", "latency", "v1"), IsOk());
  d.recorder->RecordTrainingStep(5);
  d.clock.Advance(absl::Hours(25));
  d.recorder->RecordTrainingStep(6);
  EXPECT_EQ(d.recorder->Summaries().size(), 2u);
  ASSERT_THAT(consent->DeleteWithData(), IsOk());
  EXPECT_TRUE(d.recorder->Summaries().empty());
  EXPECT_TRUE(d.recorder->ClosedUnexported().empty());
  EXPECT_FALSE(d.recorder->enabled());
  EXPECT_FALSE(consent->granted());
  EXPECT_EQ(consent->record().version(), "");
  struct stat st;
  EXPECT_NE(stat(path.c_str(), &st), 0);
}

TEST(ConsentTest, AnUnreadableRecordIsNoConsent) {
  const std::string path = TempPath("consent_bad");
  Device d;
  ASSERT_TRUE(d.storage.WriteFileAtomically(path, "\xff\xff\xff").ok());
  auto consent = *Consent::Open(d.storage, path, d.clock, *d.recorder);
  EXPECT_FALSE(consent->granted());
  EXPECT_FALSE(d.recorder->enabled());
}

}  // namespace
}  // namespace fedtiny::client::telemetry
