// The Meter (client/meter) against the MeterLedger (coordinator/meter): grants,
// refusals of bad input with no state lost, persistence and crash loss, and
// the ledger's flags for edited uploads (issue #14, docs/metering.md).
#include <algorithm>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/meter_chain.h"
#include "tests/meter_fixture.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::meter::fixture {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::Contains;
using ::testing::IsEmpty;

LedgerOptions SmallGrants() {
  LedgerOptions o;
  o.grant_calls = 20;
  o.grant_validity = absl::Hours(1);
  o.grace = absl::Minutes(10);
  o.grace_calls = 3;
  o.counter_every = 8;
  return o;
}

class MeterTest : public ::testing::Test {
 protected:
  MeterTest()
      : server_(SmallGrants()),
        dev_("d1", server_.ledger.public_key(), true, 4) {}
  void SetUp() override {
    ASSERT_THAT(dev_.Reopen(), IsOk());
    absl::StatusOr<Signed> g = server_.ledger.Enroll("d1", "pkg", 0);
    ASSERT_THAT(g, IsOk());
    grant_ = *g;
    ASSERT_THAT(dev_.meter->InstallGrant(grant_), IsOk());
  }
  absl::StatusOr<SyncResponse> Sync() {
    return server_.ledger.Sync(dev_.meter->MakeSyncRequest());
  }
  void Charge(int n) {
    for (int i = 0; i < n; ++i) {
      dev_.clock.Advance(absl::Microseconds(1000));
      ASSERT_THAT(dev_.meter->Charge(), IsOk()) << i;
    }
  }

  Server server_;
  Device dev_;
  Signed grant_;
};

TEST_F(MeterTest, SyncAcceptsAnHonestChainAndRenewsTheGrant) {
  Charge(11);
  absl::StatusOr<SyncResponse> r = Sync();
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->flags(), IsEmpty()) << r->detail();
  ASSERT_THAT(dev_.meter->AcceptSync(*r), IsOk());
  EXPECT_EQ(dev_.meter->checkpoint_index(), 11u);
  EXPECT_EQ(dev_.meter->pending_records(), 0u);
  EXPECT_EQ(dev_.meter->remaining_calls(), 20u);
  Charge(20);
  EXPECT_THAT(dev_.meter->Charge(),
              StatusIs(absl::StatusCode::kResourceExhausted));
  r = Sync();
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->flags(), IsEmpty()) << r->detail();
  absl::StatusOr<DeviceUsage> u = server_.ledger.Usage("d1", "pkg");
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ(u->accepted_calls, 31u);
}

TEST_F(MeterTest, ExpiryAllowsOnlyTheGraceCalls) {
  Charge(1);
  dev_.clock.Advance(absl::Hours(1));
  Charge(3);  // grace_calls
  EXPECT_THAT(dev_.meter->Charge(),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  dev_.clock.Set(absl::FromUnixMicros(kStartUs));  // Setting the clock back gains nothing now.
  EXPECT_THAT(dev_.meter->Charge(),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST_F(MeterTest, RefusesBadGrantsAndKeepsItsState) {
  Charge(3);
  const uint64_t remaining = dev_.meter->remaining_calls();
  Signed garbage = grant_;
  garbage.set_payload("not a grant");
  EXPECT_THAT(dev_.meter->InstallGrant(garbage),
              StatusIs(absl::StatusCode::kUnauthenticated));
  Signed other_key = grant_;
  other_key.set_key_id("ab");
  EXPECT_THAT(dev_.meter->InstallGrant(other_key),
              StatusIs(absl::StatusCode::kUnauthenticated));
  absl::StatusOr<Signed> other_device = server_.ledger.Enroll("d2", "pkg", 0);
  ASSERT_THAT(other_device, IsOk());
  EXPECT_THAT(dev_.meter->InstallGrant(*other_device),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(dev_.meter->InstallGrant(grant_),  // Replayed.
              StatusIs(absl::StatusCode::kFailedPrecondition));
  absl::StatusOr<SyncResponse> r = Sync();
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT(dev_.meter->AcceptSync(*r), IsOk());
  EXPECT_THAT(
      dev_.meter->InstallGrant(grant_),  // Bound to an older checkpoint.
      StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(dev_.meter->AcceptSync(*r),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(dev_.meter->remaining_calls(), 20u);
  (void)remaining;
  Charge(1);
}

TEST_F(MeterTest, ACrashLosesAtMostTheUnpersistedCalls) {
  Charge(10);  // N = 4: indexes 1..8 are on storage.
  ASSERT_THAT(dev_.Reopen(), IsOk());
  EXPECT_EQ(dev_.meter->head_index(), 8u);
  Charge(2);
  absl::StatusOr<SyncResponse> r = Sync();
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->flags(), IsEmpty()) << r->detail();
  ASSERT_THAT(dev_.meter->AcceptSync(*r), IsOk());
  ASSERT_THAT(dev_.Reopen(), IsOk());
  EXPECT_EQ(dev_.meter->checkpoint_index(), 10u);
  // Chunks 0 and 1 (indexes 1..8) are below the checkpoint: removed.
  EXPECT_FALSE(dev_.storage.Exists("meter/state.log.0"));
  EXPECT_FALSE(dev_.storage.Exists("meter/state.log.1"));
  Charge(1);
  ASSERT_THAT(dev_.Reopen(), IsOk());
  // The stored grant verified again; call 11 was not persisted.
  EXPECT_EQ(dev_.meter->remaining_calls(), 20u);
}

TEST_F(MeterTest, AnEditedStoredLogIsRefusedAtOpen) {
  Charge(8);
  std::string& chunk = dev_.storage.files.at("meter/state.log.0");
  chunk[16] ^= 1;  // A record's time.
  EXPECT_THAT(dev_.Reopen(), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(MeterTest, AFailedWriteKeepsTheOldGrant) {
  Charge(2);
  absl::StatusOr<SyncResponse> r = Sync();
  ASSERT_THAT(r, IsOk());
  dev_.storage.fail_writes = true;
  EXPECT_THAT(dev_.meter->AcceptSync(*r),
              StatusIs(absl::StatusCode::kInternal));
  dev_.storage.fail_writes = false;
  EXPECT_EQ(dev_.meter->checkpoint_index(), 0u);
  EXPECT_EQ(dev_.meter->pending_records(), 2u);
  ASSERT_THAT(dev_.meter->AcceptSync(*r), IsOk());
  ASSERT_THAT(dev_.Reopen(), IsOk());
  EXPECT_EQ(dev_.meter->checkpoint_index(), 2u);
}

TEST_F(MeterTest, LedgerFlagsEditedUploads) {
  Charge(9);
  SyncRequest bad_link = dev_.meter->MakeSyncRequest();
  bad_link.mutable_records(3)->set_time_us(bad_link.records(3).time_us() + 1);
  absl::StatusOr<SyncResponse> r = server_.ledger.Sync(bad_link);
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->flags(), Contains(METER_FLAG_BAD_LINK));
  EXPECT_FALSE(r->has_grant());
  EXPECT_THAT(dev_.meter->AcceptSync(*r),
              IsOk());  // The unchanged checkpoint 0.
  r = Sync();
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->flags(), IsEmpty()) << r->detail();
  ASSERT_THAT(server_.ledger.CutOff("d1", "pkg"), IsOk());
  r = Sync();
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->has_grant());
  SyncRequest unknown = dev_.meter->MakeSyncRequest();
  unknown.set_device_id("nobody");
  EXPECT_THAT(server_.ledger.Sync(unknown),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(MeterTest, ALostResponseIsRetriedWithoutAFlag) {
  Charge(5);
  absl::StatusOr<SyncResponse> lost = Sync();  // The device never sees it.
  ASSERT_THAT(lost, IsOk());
  Charge(4);
  absl::StatusOr<SyncResponse> r = Sync();
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->flags(), IsEmpty()) << r->detail();
  ASSERT_THAT(dev_.meter->AcceptSync(*r), IsOk());
  EXPECT_EQ(dev_.meter->checkpoint_index(), 9u);
  EXPECT_EQ(server_.ledger.Usage("d1", "pkg")->accepted_calls, 9u);
}

TEST_F(MeterTest, LedgerFlagsOveruseAndTimeGoingBack) {
  Charge(3);
  SyncRequest req = dev_.meter->MakeSyncRequest();
  // A patched device: 30 calls under a 20-call grant, the last one earlier.
  Sha256Digest h{};
  for (const UsageRecord& r : req.records()) h = *NextHash(h, r);
  for (uint64_t i = 4; i <= 30; ++i) {
    UsageRecord* r = req.add_records();
    r->set_index(i);
    r->set_model_version(7);
    r->set_time_us(i == 30 ? kStartUs
                           : kStartUs + 1000 * static_cast<int64_t>(i));
    r->set_counter(i % 8 == 0 ? i / 8 : 0);
    h = *NextHash(h, *r);
  }
  req.set_head_hash(AsBytes(h));
  absl::StatusOr<SyncResponse> r = server_.ledger.Sync(req);
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->flags(), Contains(METER_FLAG_OVERUSE));
  EXPECT_THAT(r->flags(), Contains(METER_FLAG_CLOCK_BACK));
  EXPECT_TRUE(r->has_grant());  // Consistent: accepted, billed and flagged.
  EXPECT_EQ(server_.ledger.Usage("d1", "pkg")->accepted_calls, 30u);
}

TEST_F(MeterTest, ACounterLostInACrashShowsAsAGap) {
  Charge(7);
  dev_.storage.fail_writes =
      true;  // The binding at 8 increments, then the write fails.
  dev_.clock.Advance(absl::Microseconds(1000));
  EXPECT_THAT(dev_.meter->Charge(), StatusIs(absl::StatusCode::kInternal));
  dev_.storage.fail_writes = false;
  ASSERT_THAT(dev_.Reopen(), IsOk());  // The crash: back to index 4.
  Charge(4);
  absl::StatusOr<SyncResponse> r = Sync();
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->flags(), Contains(METER_FLAG_GAP)) << r->detail();
}

TEST_F(MeterTest, LedgerRefusesForeignCheckpointsAndDoubleEnrollment) {
  // Before the first sync the same enrollment is answered again; another is not.
  absl::StatusOr<Signed> again = server_.ledger.Enroll("d1", "pkg", 0);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->payload(), grant_.payload());
  EXPECT_THAT(server_.ledger.Enroll("d1", "pkg", 1),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(server_.ledger.Enroll("d1", "pkg", std::nullopt),
              StatusIs(absl::StatusCode::kAlreadyExists));
  Charge(2);
  absl::StatusOr<SyncResponse> r = Sync();
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(server_.ledger.Enroll("d1", "pkg", 0),
              StatusIs(absl::StatusCode::kAlreadyExists));
  SyncRequest req = dev_.meter->MakeSyncRequest();
  *req.mutable_checkpoint() = r->checkpoint();
  req.mutable_checkpoint()->mutable_signature()->back() ^= 1;
  EXPECT_FALSE(server_.ledger.Sync(req).ok());
  Server other(SmallGrants());
  ASSERT_THAT(other.ledger.Enroll("d1", "pkg", 0), IsOk());
  *req.mutable_checkpoint() = r->checkpoint();
  EXPECT_THAT(other.ledger.Sync(req),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(dev_.meter->AcceptSync(*r), IsOk());  // Nothing was lost.
}

TEST(MeterLedgerTest, ASyncFromAForgottenCheckpointIsARollback) {
  LedgerOptions o = SmallGrants();
  o.checkpoints_kept = 2;
  Server server(o);
  Device dev("d1", server.ledger.public_key(), false, 4);
  ASSERT_THAT(dev.Reopen(), IsOk());
  absl::StatusOr<Signed> g = server.ledger.Enroll("d1", "pkg", std::nullopt);
  ASSERT_THAT(g, IsOk());
  ASSERT_THAT(dev.meter->InstallGrant(*g), IsOk());
  const auto factory = dev.storage.files;
  for (int round = 0; round < 3; ++round) {
    dev.clock.Advance(absl::Microseconds(1000));
    ASSERT_THAT(dev.meter->Charge(), IsOk());
    absl::StatusOr<SyncResponse> r =
        server.ledger.Sync(dev.meter->MakeSyncRequest());
    ASSERT_THAT(r, IsOk());
    ASSERT_THAT(r->flags(), IsEmpty()) << r->detail();
    ASSERT_THAT(dev.meter->AcceptSync(*r), IsOk());
  }
  dev.storage.files = factory;
  ASSERT_THAT(dev.Reopen(), IsOk());
  absl::StatusOr<SyncResponse> r =
      server.ledger.Sync(dev.meter->MakeSyncRequest());
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->flags(), Contains(METER_FLAG_ROLLBACK));
  EXPECT_FALSE(r->has_grant());
}

}  // namespace
}  // namespace fedtiny::meter::fixture
