// The Store contract, run against every implementation: SqliteStore in a fresh
// directory, PostgresStore in a fresh database of a throwaway PostgreSQL server
// (skipped only when the server binaries are not installed). What only one
// implementation has (SQLite's directory lock and legacy files, PostgreSQL's
// reconnects) is tested beside it, in sqlite_store_test and postgres_store_test.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "coordinator/pg_connection.h"
#include "coordinator/postgres_store.h"
#include "coordinator/sqlite_store.h"
#include "coordinator/testing/pg_server.h"
#include "coordinator/testing/store_rows.h"
#include "gtest/gtest.h"
#include "tools/base/atomic_file.h"
#include "tools/base/sha256.h"
#include "tools/base/status_macros.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::coordinator {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using testing::Version;
using testing::WithBody;
using testing::PgServer;

// One PostgreSQL server for the whole binary, started at the first use.
class PgEnvironment : public ::testing::Environment {
 public:
  static absl::StatusOr<PgServer*> Server() {
    static absl::StatusOr<std::unique_ptr<PgServer>>* server =
        new absl::StatusOr<std::unique_ptr<PgServer>>(PgServer::Start());
    owned_ = server;
    if (!server->ok()) return server->status();
    return server->value().get();
  }
  void TearDown() override {
    if (owned_ != nullptr && owned_->ok()) owned_->value().reset();
  }

 private:
  static inline absl::StatusOr<std::unique_ptr<PgServer>>* owned_ = nullptr;
};
::testing::Environment* const kPgEnvironment =
    ::testing::AddGlobalTestEnvironment(new PgEnvironment);

// A store implementation under test: Open() gives a handle on the same state
// each time (the previous one destroyed first); the tamper hooks damage one
// stored blob part by its SHA-256 behind the store's back.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual absl::StatusOr<std::unique_ptr<Store>> Open() = 0;
  virtual void Overwrite(const std::string& hex, const std::string& bytes) = 0;
  virtual void Remove(const std::string& hex) = 0;
  virtual bool Has(const std::string& hex) = 0;
};

class SqliteBackend final : public Backend {
 public:
  explicit SqliteBackend(std::string dir) : dir_(std::move(dir)) {}
  absl::StatusOr<std::unique_ptr<Store>> Open() override {
    ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> s, SqliteStore::Open(dir_));
    return std::unique_ptr<Store>(std::move(s));
  }
  void Overwrite(const std::string& hex, const std::string& bytes) override {
    ASSERT_THAT(WriteFileAtomically(Path(hex), bytes), IsOk());
  }
  void Remove(const std::string& hex) override { ASSERT_EQ(std::remove(Path(hex).c_str()), 0); }
  bool Has(const std::string& hex) override { return ReadFile(Path(hex)).ok(); }

 private:
  std::string Path(const std::string& hex) const { return dir_ + "/blobs/" + hex + ".blob"; }
  const std::string dir_;
};

class PostgresBackend final : public Backend {
 public:
  explicit PostgresBackend(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  absl::StatusOr<std::unique_ptr<Store>> Open() override {
    ASSIGN_OR_RETURN(std::unique_ptr<PostgresStore> s, PostgresStore::Open(conninfo_));
    return std::unique_ptr<Store>(std::move(s));
  }
  void Overwrite(const std::string& hex, const std::string& bytes) override {
    Run("UPDATE blobs SET data = $2 WHERE sha256 = $1", hex, bytes);
  }
  void Remove(const std::string& hex) override { Run("DELETE FROM blobs WHERE sha256 = $1", hex, ""); }
  bool Has(const std::string& hex) override {
    auto conn = PgConnection::Connect(conninfo_);
    if (!conn.ok()) return false;
    auto r = (*conn)->Exec("SELECT 1 FROM blobs WHERE sha256 = $1", PgParams().Add(hex));
    return r.ok() && r->rows() == 1;
  }

 private:
  void Run(const char* sql, const std::string& hex, const std::string& bytes) {
    auto conn = PgConnection::Connect(conninfo_);
    ASSERT_THAT(conn, IsOk());
    PgParams p;
    p.Add(hex);
    if (std::string(sql).find("$2") != std::string::npos) p.Add(bytes);
    auto r = (*conn)->Exec(sql, p);
    ASSERT_THAT(r, IsOk());
    ASSERT_EQ(r->Affected(), 1);
  }
  const std::string conninfo_;
};


std::string Hex(const std::string& bytes) { return DigestToHex(*Sha256(bytes)); }

class StoreConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    const std::string name = "t" + std::to_string(counter++);
    if (GetParam() == "sqlite") {
      const char* d = std::getenv("TEST_TMPDIR");
      backend_ = std::make_unique<SqliteBackend>(std::string(d != nullptr ? d : "/tmp") + "/" + name);
    } else {
      if (!PgServer::Installed()) GTEST_SKIP() << PgServer::kMissing;
      absl::StatusOr<PgServer*> server = PgEnvironment::Server();
      ASSERT_THAT(server, IsOk());
      absl::StatusOr<std::string> conninfo = (*server)->CreateDatabase(name);
      ASSERT_THAT(conninfo, IsOk());
      backend_ = std::make_unique<PostgresBackend>(*conninfo);
    }
    Reopen();
  }
  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<Store>> s = backend_->Open();
    ASSERT_THAT(s, IsOk());
    store_ = *std::move(s);
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreConformanceTest, TasksRoundsVersionsSurviveReopen) {
  ASSERT_THAT(store_->CreateTask({"mnist", "cfg", 1, 100}, {Version("mnist", 0, 0, "m0")}), IsOk());
  EXPECT_THAT(store_->CreateTask({"mnist", "cfg", 1, 100}, {}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_THAT(store_->OpenRound({"mnist", 1, RoundState::kOpen, 200, 0, ""}), IsOk());
  ASSERT_THAT(store_->CloseRound({"mnist", 1, RoundState::kCommitted, 200, 300, "info1"},
                                 {Version("mnist", 0, 1, "m1")}),
              IsOk());
  ASSERT_THAT(store_->OpenRound({"mnist", 2, RoundState::kOpen, 400, 0, ""}), IsOk());
  ASSERT_THAT(store_->SetTaskState("mnist", 2), IsOk());
  EXPECT_THAT(store_->SetTaskState("nope", 2), StatusIs(absl::StatusCode::kNotFound));
  Reopen();
  std::vector<TaskRow> tasks = *store_->Tasks();
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].state, 2);
  EXPECT_EQ(tasks[0].config, "cfg");
  EXPECT_EQ(*store_->LastRound("mnist"), 2);
  EXPECT_EQ(*store_->AbandonOpenRounds(500), 1);  // Round 2 was open at the "crash".
  std::vector<RoundRow> rounds = *store_->Rounds("mnist", 10);
  ASSERT_EQ(rounds.size(), 2u);
  EXPECT_EQ(rounds[0].state, RoundState::kAbandoned);
  EXPECT_EQ(rounds[0].closed_ms, 500);
  EXPECT_EQ(rounds[1].state, RoundState::kCommitted);
  EXPECT_EQ(rounds[1].info, "info1");
  EXPECT_EQ(store_->Rounds("mnist", 1)->size(), 1u);
  std::vector<VersionRow> latest = *store_->LatestVersions("mnist");
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].version, 1);
  EXPECT_EQ(latest[0].model, "m1");
  EXPECT_EQ(latest[0].optimizer_state, "opt1");
  const std::vector<VersionRow> all = *store_->Versions("mnist");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].parent_version, 0);
  EXPECT_EQ(all[1].sha256_hex, Hex("m1"));
  EXPECT_EQ(all[1].size_bytes, 2);
  EXPECT_TRUE(all[1].model.empty());  // Listed without blobs.
}

TEST_P(StoreConformanceTest, NothingIsCommittedTwice) {
  ASSERT_THAT(store_->CreateTask({"t", "c", 1, 1}, {Version("t", 0, 0, "a")}), IsOk());
  ASSERT_THAT(store_->OpenRound({"t", 1, RoundState::kOpen, 1, 0, ""}), IsOk());
  ASSERT_THAT(store_->CloseRound({"t", 1, RoundState::kCommitted, 1, 2, ""}, {Version("t", 0, 1, "b")}),
              IsOk());
  // The same version again, or closing the same round again, fails as a whole.
  EXPECT_THAT(store_->CloseRound({"t", 2, RoundState::kCommitted, 1, 2, ""}, {Version("t", 0, 1, "c")}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store_->CloseRound({"t", 1, RoundState::kCommitted, 1, 2, ""}, {Version("t", 0, 2, "d")}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store_->CommitVersions({Version("t", 0, 1, "e")}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(store_->Versions("t")->size(), 2u);
  EXPECT_EQ(store_->LatestVersions("t")->at(0).model, "b");
  EXPECT_EQ(*store_->LastRound("t"), 1);
}

TEST_P(StoreConformanceTest, AlteredOrMissingBlobIsDataLoss) {
  ASSERT_THAT(store_->CreateTask({"t", "c", 1, 1}, {Version("t", 0, 0, "weights")}), IsOk());
  ASSERT_TRUE(backend_->Has(Hex("weights")));
  EXPECT_THAT(store_->CheckIntegrity(), IsOk());
  backend_->Overwrite(Hex("weights"), "weightz");
  EXPECT_THAT(store_->LatestVersions("t"), StatusIs(absl::StatusCode::kDataLoss));
  backend_->Remove(Hex("weights"));
  EXPECT_THAT(store_->LatestVersions("t"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(store_->ReadBlob(store_->Versions("t")->at(0)), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_P(StoreConformanceTest, BodiesAreStoredOnceAndSharedByVersions) {
  const std::string body(100000, 'b');
  ASSERT_THAT(store_->CreateTask({"t", "c", 1, 1}, {WithBody("t", 0, body, "head0")}), IsOk());
  for (int64_t v = 1; v <= 3; ++v) {
    ASSERT_THAT(store_->CommitVersions({WithBody("t", v, body, "head" + std::to_string(v))}), IsOk());
  }
  StorageUse use = *store_->Usage();
  EXPECT_EQ(use.blobs, 5);  // One body, four heads.
  EXPECT_EQ(use.bytes, 100000 + 4 * 5);
  Reopen();
  const std::vector<VersionRow> rows = *store_->Versions("t");
  ASSERT_EQ(rows.size(), 4u);
  for (const VersionRow& v : rows) {
    absl::StatusOr<std::string> blob = store_->ReadBlob(v);
    ASSERT_THAT(blob, IsOk());
    EXPECT_EQ(*blob, body + "head" + std::to_string(v.version));
  }
  // A bit flip in the shared body is found in every version that uses it.
  backend_->Overwrite(Hex(body), std::string(99999, 'b') + "X");
  for (const VersionRow& v : rows) {
    EXPECT_THAT(store_->ReadBlob(v), StatusIs(absl::StatusCode::kDataLoss));
  }
}

TEST_P(StoreConformanceTest, RetentionPrunesOldUnpinnedBlobsAndKeepsTheRows) {
  const std::string body(1000, 'b');
  ASSERT_THAT(store_->CreateTask({"t", "c", 1, 1}, {WithBody("t", 0, body, "h0")}), IsOk());
  for (int64_t v = 1; v <= 4; ++v) {
    ASSERT_THAT(store_->CommitVersions({WithBody("t", v, body, "h" + std::to_string(v))}), IsOk());
  }
  ASSERT_THAT(store_->SetPinned("t", 0, 1, true), IsOk());
  EXPECT_THAT(store_->SetPinned("t", 0, 9, true), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Prune("t", 0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(*store_->Prune("t", 2), 2);  // Versions 0 and 2: not pinned, not among the newest 2.
  EXPECT_EQ(*store_->Prune("t", 2), 0);  // Nothing more.
  std::vector<VersionRow> rows = *store_->Versions("t");
  ASSERT_EQ(rows.size(), 5u);  // History stays: every row, pruned or not.
  for (const VersionRow& v : rows) {
    const bool gone = v.version == 0 || v.version == 2;
    EXPECT_EQ(v.pruned, gone) << v.version;
    EXPECT_EQ(v.pinned, v.version == 1) << v.version;
    if (gone) {
      EXPECT_THAT(store_->ReadBlob(v), StatusIs(absl::StatusCode::kNotFound)) << v.version;
      EXPECT_FALSE(backend_->Has(Hex("h" + std::to_string(v.version))));
    } else {
      EXPECT_EQ(*store_->ReadBlob(v), body + "h" + std::to_string(v.version));
    }
  }
  EXPECT_EQ(store_->Usage()->blobs, 4);  // The body and three heads.
  EXPECT_THAT(store_->SetPinned("t", 0, 2, true), StatusIs(absl::StatusCode::kFailedPrecondition));
  // Unpinned, version 1 goes at the next prune.
  ASSERT_THAT(store_->SetPinned("t", 0, 1, false), IsOk());
  EXPECT_EQ(*store_->Prune("t", 2), 1);
  EXPECT_THAT(store_->CheckIntegrity(), IsOk());
}

TEST_P(StoreConformanceTest, DeletingATaskRemovesItsRowsAndOnlyTheBlobsNoOneElseUses) {
  const std::string body(1000, 'b');
  ASSERT_THAT(store_->CreateTask({"a", "c", 1, 1}, {WithBody("a", 0, body, "ha")}), IsOk());
  ASSERT_THAT(store_->CreateTask({"b", "c", 1, 2}, {WithBody("b", 0, body, "hb")}), IsOk());
  ASSERT_THAT(store_->OpenRound({"a", 1, RoundState::kOpen, 1, 0, ""}), IsOk());
  ASSERT_THAT(store_->DeleteTask("a"), IsOk());
  EXPECT_THAT(store_->DeleteTask("a"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_EQ(store_->Tasks()->size(), 1u);
  EXPECT_TRUE(store_->Versions("a")->empty());
  EXPECT_TRUE(store_->Rounds("a", 0)->empty());
  EXPECT_EQ(store_->LatestVersions("b")->at(0).model, body + "hb");  // The shared body stays.
  EXPECT_EQ(store_->Usage()->blobs, 2);
  // A runner still holding the deleted task writes nothing.
  EXPECT_THAT(store_->OpenRound({"a", 2, RoundState::kOpen, 1, 0, ""}),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->CloseRound({"a", 1, RoundState::kCommitted, 1, 2, ""}, {WithBody("a", 1, body, "x")}),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->CommitVersions({WithBody("a", 1, body, "x")}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->UpdateTaskConfig("a", "c2"), StatusIs(absl::StatusCode::kNotFound));
  // Whatever those refused writes left behind is garbage (SQLite wrote a file
  // before its transaction; PostgreSQL's transaction left nothing).
  EXPECT_THAT(store_->CollectGarbage(), IsOk());
  EXPECT_EQ(store_->Usage()->blobs, 2);
  EXPECT_EQ(*store_->CollectGarbage(), 0);
  EXPECT_EQ(store_->LatestVersions("b")->at(0).model, body + "hb");
}

TEST_P(StoreConformanceTest, TheAuditLogIsDurableAndNewestFirst) {
  for (const char* task : {"a", "b", "a"}) {
    AuditRow row{0, 1000, "alice", "PauseTask", task, "", "ok"};
    ASSERT_THAT(store_->AppendAudit(row), IsOk());
    EXPECT_GT(row.seq, 0);
  }
  Reopen();
  std::vector<AuditRow> all = *store_->Audit("", 0);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_GT(all[0].seq, all[1].seq);
  EXPECT_GT(all[1].seq, all[2].seq);
  EXPECT_EQ(all[0].who, "alice");
  EXPECT_EQ(all[0].time_ms, 1000);
  EXPECT_EQ(store_->Audit("a", 0)->size(), 2u);
  EXPECT_EQ(store_->Audit("", 1)->size(), 1u);
  EXPECT_EQ(store_->Audit("a", 1)->at(0).seq, all[0].seq);
}

TEST_P(StoreConformanceTest, UpdatedConfigSurvivesReopen) {
  ASSERT_THAT(store_->CreateTask({"t", "old", 1, 1}, {Version("t", 0, 0, "m")}), IsOk());
  ASSERT_THAT(store_->UpdateTaskConfig("t", std::string("new\0bytes", 9)), IsOk());
  Reopen();
  EXPECT_EQ(store_->Tasks()->at(0).config, std::string("new\0bytes", 9));
}

TEST_P(StoreConformanceTest, ClustersHaveTheirOwnLines) {
  ASSERT_THAT(store_->CreateTask({"t", "c", 1, 1},
                                 {Version("t", 0, 0, "a0"), Version("t", 1, 0, "b0")}),
              IsOk());
  ASSERT_THAT(store_->CommitVersions({Version("t", 1, 1, "b1")}), IsOk());
  std::vector<VersionRow> latest = *store_->LatestVersions("t");
  ASSERT_EQ(latest.size(), 2u);
  EXPECT_EQ(latest[0].cluster, 0);
  EXPECT_EQ(latest[0].model, "a0");
  EXPECT_EQ(latest[1].cluster, 1);
  EXPECT_EQ(latest[1].model, "b1");
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreConformanceTest, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace fedtiny::coordinator
