// PostgresStore's own behaviour (the shared contract is store_conformance_test):
// a server that restarts, two stores on one database, and a clear error when
// the server is unreachable.
#include "coordinator/postgres_store.h"

#include <memory>
#include <string>
#include <thread>

#include "coordinator/pg_connection.h"
#include "coordinator/testing/pg_server.h"
#include "coordinator/testing/store_rows.h"
#include "gtest/gtest.h"
#include "tools/base/sha256.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::coordinator {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using testing::PgServer;

// Version `v` of cluster 0.
VersionRow Version(const std::string& task, int64_t v, const std::string& model) {
  return testing::Version(task, 0, v, model);
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!PgServer::Installed()) GTEST_SKIP() << PgServer::kMissing;
    absl::StatusOr<std::unique_ptr<PgServer>> server = PgServer::Start();
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    absl::StatusOr<std::string> conninfo = server_->CreateDatabase("store");
    ASSERT_THAT(conninfo, IsOk());
    conninfo_ = *conninfo;
  }
  std::unique_ptr<PostgresStore> Open() {
    absl::StatusOr<std::unique_ptr<PostgresStore>> s = PostgresStore::Open(conninfo_);
    EXPECT_THAT(s, IsOk());
    return s.ok() ? *std::move(s) : nullptr;
  }

  std::unique_ptr<PgServer> server_;
  std::string conninfo_;
};

TEST_F(PostgresStoreTest, ReconnectsAfterTheServerRestarts) {
  std::unique_ptr<PostgresStore> store = Open();
  ASSERT_THAT(store->CreateTask({"t", "c", 1, 1}, {Version("t", 0, "a")}), IsOk());
  ASSERT_THAT(server_->Stop(), IsOk());
  // Down: a clear error, not a hang or a crash.
  EXPECT_THAT(store->Tasks(), StatusIs(absl::StatusCode::kUnavailable,
                                       ::testing::HasSubstr("PostgreSQL")));
  EXPECT_THAT(store->CommitVersions({Version("t", 1, "b")}),
              StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_THAT(server_->Restart(), IsOk());
  // Up again: the next call reconnects, and what was committed survived.
  ASSERT_THAT(store->CommitVersions({Version("t", 1, "b")}), IsOk());
  EXPECT_EQ(store->LatestVersions("t")->at(0).model, "b");
  EXPECT_EQ(store->Versions("t")->size(), 2u);
}

TEST_F(PostgresStoreTest, TwoStoresOnOneDatabaseSeeEachOthersCommits) {
  std::unique_ptr<PostgresStore> a = Open();
  std::unique_ptr<PostgresStore> b = Open();
  ASSERT_THAT(a->CreateTask({"t", "c", 1, 1}, {Version("t", 0, "a")}), IsOk());
  ASSERT_EQ(b->Tasks()->size(), 1u);
  ASSERT_THAT(b->OpenRound({"t", 1, RoundState::kOpen, 1, 0, ""}), IsOk());
  ASSERT_THAT(b->CloseRound({"t", 1, RoundState::kCommitted, 1, 2, ""}, {Version("t", 1, "b")}),
              IsOk());
  EXPECT_EQ(a->LatestVersions("t")->at(0).model, "b");
  EXPECT_EQ(*a->LastRound("t"), 1);
  AuditRow row{0, 5, "op", "PauseTask", "t", "", "ok"};
  ASSERT_THAT(a->AppendAudit(row), IsOk());
  EXPECT_EQ(b->Audit("t", 0)->at(0).seq, row.seq);
}

TEST_F(PostgresStoreTest, ASecondCloseOfTheSameRoundFromAnotherConnectionIsRefused) {
  std::unique_ptr<PostgresStore> a = Open();
  std::unique_ptr<PostgresStore> b = Open();
  ASSERT_THAT(a->CreateTask({"t", "c", 1, 1}, {Version("t", 0, "a")}), IsOk());
  ASSERT_THAT(a->OpenRound({"t", 1, RoundState::kOpen, 1, 0, ""}), IsOk());
  // Both race to commit version 1: exactly one wins, whatever the order.
  absl::Status sa, sb;
  std::thread ta([&] {
    sa = a->CloseRound({"t", 1, RoundState::kCommitted, 1, 2, ""}, {Version("t", 1, "from-a")});
  });
  std::thread tb([&] {
    sb = b->CloseRound({"t", 1, RoundState::kCommitted, 1, 3, ""}, {Version("t", 1, "from-b")});
  });
  ta.join();
  tb.join();
  EXPECT_NE(sa.ok(), sb.ok()) << sa << " / " << sb;
  EXPECT_EQ((sa.ok() ? sb : sa).code(), absl::StatusCode::kAlreadyExists);
  const std::string winner = sa.ok() ? "from-a" : "from-b";
  EXPECT_EQ(b->LatestVersions("t")->at(0).model, winner);
  EXPECT_EQ(a->Versions("t")->size(), 2u);
  // And sequentially, from the loser's connection.
  EXPECT_THAT((sa.ok() ? b : a)->CloseRound({"t", 1, RoundState::kCommitted, 1, 4, ""},
                                            {Version("t", 1, "again")}),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(PostgresStoreTest, AnUnreachableServerIsAClearError) {
  const std::string gone = "host=" + server_->dir() + "/nowhere dbname=store user=postgres";
  EXPECT_THAT(PostgresStore::Open(gone),
              StatusIs(absl::StatusCode::kUnavailable,
                       ::testing::AllOf(::testing::HasSubstr("cannot reach PostgreSQL"),
                                        ::testing::HasSubstr("dbname=store"))));
  EXPECT_THAT(PostgresStore::Open("host=/tmp password=hunter2 bogus_option=1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::Not(::testing::HasSubstr("hunter2"))));
}

TEST_F(PostgresStoreTest, IntegrityCheckFindsAMissingBlob) {
  std::unique_ptr<PostgresStore> store = Open();
  ASSERT_THAT(store->CreateTask({"t", "c", 1, 1}, {Version("t", 0, "a")}), IsOk());
  EXPECT_THAT(store->CheckIntegrity(), IsOk());
  auto conn = PgConnection::Connect(conninfo_);
  ASSERT_THAT(conn, IsOk());
  ASSERT_THAT((*conn)->Exec("DELETE FROM blobs"), IsOk());
  EXPECT_THAT(store->CheckIntegrity(), StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace fedtiny::coordinator
