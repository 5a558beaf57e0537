#include "coordinator/sqlite_store.h"

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "tools/base/atomic_file.h"
#include "tools/base/sha256.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::coordinator {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

std::string Dir(const std::string& name) {
  const char* d = std::getenv("TEST_TMPDIR");
  return std::string(d != nullptr ? d : "/tmp") + "/" + name;
}

VersionRow Version(const std::string& task, int cluster, int64_t v, const std::string& model) {
  VersionRow row;
  row.task = task;
  row.cluster = cluster;
  row.version = v;
  row.parent_version = v - 1;
  row.round = v;
  row.aggregator = "fedavg";
  row.model = model;
  row.size_bytes = model.size();
  row.sha256_hex = DigestToHex(*Sha256(model));
  row.optimizer_state = "opt" + std::to_string(v);
  return row;
}

TEST(SqliteStoreTest, TasksRoundsVersionsSurviveReopen) {
  const std::string dir = Dir("reopen");
  {
    auto store = *SqliteStore::Open(dir);
    ASSERT_THAT(store->CreateTask({"mnist", "cfg", 1, 100}, {Version("mnist", 0, 0, "m0")}), IsOk());
    EXPECT_THAT(store->CreateTask({"mnist", "cfg", 1, 100}, {}),
                StatusIs(absl::StatusCode::kAlreadyExists));
    ASSERT_THAT(store->OpenRound({"mnist", 1, RoundState::kOpen, 200, 0, ""}), IsOk());
    ASSERT_THAT(store->CloseRound({"mnist", 1, RoundState::kCommitted, 200, 300, "info1"},
                                  {Version("mnist", 0, 1, "m1")}),
                IsOk());
    ASSERT_THAT(store->OpenRound({"mnist", 2, RoundState::kOpen, 400, 0, ""}), IsOk());
    ASSERT_THAT(store->SetTaskState("mnist", 2), IsOk());
    EXPECT_THAT(store->SetTaskState("nope", 2), StatusIs(absl::StatusCode::kNotFound));
  }
  auto store = *SqliteStore::Open(dir);
  std::vector<TaskRow> tasks = *store->Tasks();
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].state, 2);
  EXPECT_EQ(*store->LastRound("mnist"), 2);
  EXPECT_EQ(*store->AbandonOpenRounds(500), 1);  // Round 2 was open at the "crash".
  std::vector<RoundRow> rounds = *store->Rounds("mnist", 10);
  ASSERT_EQ(rounds.size(), 2u);
  EXPECT_EQ(rounds[0].state, RoundState::kAbandoned);
  EXPECT_EQ(rounds[1].state, RoundState::kCommitted);
  EXPECT_EQ(rounds[1].info, "info1");
  std::vector<VersionRow> latest = *store->LatestVersions("mnist");
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].version, 1);
  EXPECT_EQ(latest[0].model, "m1");
  EXPECT_EQ(latest[0].optimizer_state, "opt1");
  EXPECT_EQ(store->Versions("mnist")->size(), 2u);
}

TEST(SqliteStoreTest, NothingIsCommittedTwice) {
  auto store = *SqliteStore::Open(Dir("twice"));
  ASSERT_THAT(store->CreateTask({"t", "c", 1, 1}, {Version("t", 0, 0, "a")}), IsOk());
  ASSERT_THAT(store->OpenRound({"t", 1, RoundState::kOpen, 1, 0, ""}), IsOk());
  ASSERT_THAT(store->CloseRound({"t", 1, RoundState::kCommitted, 1, 2, ""}, {Version("t", 0, 1, "b")}), IsOk());
  // The same version again, or closing the same round again, fails as a whole.
  EXPECT_THAT(store->CloseRound({"t", 2, RoundState::kCommitted, 1, 2, ""}, {Version("t", 0, 1, "c")}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store->CloseRound({"t", 1, RoundState::kCommitted, 1, 2, ""}, {Version("t", 0, 2, "d")}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(store->Versions("t")->size(), 2u);
  EXPECT_EQ(store->LatestVersions("t")->at(0).model, "b");
  EXPECT_EQ(*store->LastRound("t"), 1);
}

TEST(SqliteStoreTest, AlteredOrMissingBlobIsDataLoss) {
  const std::string dir = Dir("blob");
  auto store = *SqliteStore::Open(dir);
  ASSERT_THAT(store->CreateTask({"t", "c", 1, 1}, {Version("t", 0, 0, "weights")}), IsOk());
  const std::string blob = dir + "/blobs/" + DigestToHex(*Sha256("weights")) + ".blob";
  ASSERT_THAT(ReadFile(blob), IsOk());
  ASSERT_THAT(WriteFileAtomically(blob, "weightz"), IsOk());
  EXPECT_THAT(store->LatestVersions("t"), StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_EQ(std::remove(blob.c_str()), 0);
  EXPECT_THAT(store->LatestVersions("t"), StatusIs(absl::StatusCode::kDataLoss));
}

// A version whose first `body.size()` bytes other versions share.
VersionRow WithBody(const std::string& task, int64_t v, const std::string& body,
                    const std::string& head) {
  VersionRow row = Version(task, 0, v, body + head);
  row.shared_prefix_bytes = static_cast<int64_t>(body.size());
  return row;
}

TEST(SqliteStoreTest, BodiesAreStoredOnceAndSharedByVersions) {
  const std::string dir = Dir("shared");
  const std::string body(100000, 'b');
  auto store = *SqliteStore::Open(dir);
  ASSERT_THAT(store->CreateTask({"t", "c", 1, 1}, {WithBody("t", 0, body, "head0")}), IsOk());
  for (int64_t v = 1; v <= 3; ++v) {
    ASSERT_THAT(store->CommitVersions({WithBody("t", v, body, "head" + std::to_string(v))}), IsOk());
  }
  StorageUse use = *store->Usage();
  EXPECT_EQ(use.blobs, 5);  // One body, four heads.
  EXPECT_EQ(use.bytes, 100000 + 4 * 5);
  store.reset();
  store = *SqliteStore::Open(dir);
  const std::vector<VersionRow> rows = *store->Versions("t");
  ASSERT_EQ(rows.size(), 4u);
  for (const VersionRow& v : rows) {
    absl::StatusOr<std::string> blob = store->ReadBlob(v);
    ASSERT_THAT(blob, IsOk());
    EXPECT_EQ(*blob, body + "head" + std::to_string(v.version));
  }
  // A bit flip in the shared body is found in every version that uses it.
  ASSERT_THAT(WriteFileAtomically(dir + "/blobs/" + DigestToHex(*Sha256(body)) + ".blob",
                                  std::string(99999, 'b') + "X"),
              IsOk());
  for (const VersionRow& v : rows) {
    EXPECT_THAT(store->ReadBlob(v), StatusIs(absl::StatusCode::kDataLoss));
  }
}

TEST(SqliteStoreTest, RetentionPrunesOldUnpinnedBlobsAndKeepsTheRows) {
  const std::string dir = Dir("retention");
  const std::string body(1000, 'b');
  auto store = *SqliteStore::Open(dir);
  ASSERT_THAT(store->CreateTask({"t", "c", 1, 1}, {WithBody("t", 0, body, "h0")}), IsOk());
  for (int64_t v = 1; v <= 4; ++v) {
    ASSERT_THAT(store->CommitVersions({WithBody("t", v, body, "h" + std::to_string(v))}), IsOk());
  }
  ASSERT_THAT(store->SetPinned("t", 0, 1, true), IsOk());
  EXPECT_THAT(store->SetPinned("t", 0, 9, true), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->Prune("t", 0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(*store->Prune("t", 2), 2);  // Versions 0 and 2: not pinned, not among the newest 2.
  EXPECT_EQ(*store->Prune("t", 2), 0);  // Nothing more.
  std::vector<VersionRow> rows = *store->Versions("t");
  ASSERT_EQ(rows.size(), 5u);  // History stays: every row, pruned or not.
  for (const VersionRow& v : rows) {
    const bool gone = v.version == 0 || v.version == 2;
    EXPECT_EQ(v.pruned, gone) << v.version;
    EXPECT_EQ(v.pinned, v.version == 1) << v.version;
    if (gone) {
      EXPECT_THAT(store->ReadBlob(v), StatusIs(absl::StatusCode::kNotFound)) << v.version;
      EXPECT_THAT(ReadFile(dir + "/blobs/" + DigestToHex(*Sha256("h" + std::to_string(v.version))) + ".blob"),
                  StatusIs(absl::StatusCode::kNotFound));
    } else {
      EXPECT_EQ(*store->ReadBlob(v), body + "h" + std::to_string(v.version));
    }
  }
  EXPECT_EQ(store->Usage()->blobs, 4);  // The body and three heads.
  EXPECT_THAT(store->SetPinned("t", 0, 2, true), StatusIs(absl::StatusCode::kFailedPrecondition));
  // Unpinned, version 1 goes at the next prune.
  ASSERT_THAT(store->SetPinned("t", 0, 1, false), IsOk());
  EXPECT_EQ(*store->Prune("t", 2), 1);
}

TEST(SqliteStoreTest, DeletingATaskRemovesItsRowsAndOnlyTheBlobsNoOneElseUses) {
  const std::string dir = Dir("delete");
  const std::string body(1000, 'b');
  auto store = *SqliteStore::Open(dir);
  ASSERT_THAT(store->CreateTask({"a", "c", 1, 1}, {WithBody("a", 0, body, "ha")}), IsOk());
  ASSERT_THAT(store->CreateTask({"b", "c", 1, 2}, {WithBody("b", 0, body, "hb")}), IsOk());
  ASSERT_THAT(store->OpenRound({"a", 1, RoundState::kOpen, 1, 0, ""}), IsOk());
  ASSERT_THAT(store->DeleteTask("a"), IsOk());
  EXPECT_THAT(store->DeleteTask("a"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_EQ(store->Tasks()->size(), 1u);
  EXPECT_TRUE(store->Versions("a")->empty());
  EXPECT_TRUE(store->Rounds("a", 0)->empty());
  EXPECT_EQ(store->LatestVersions("b")->at(0).model, body + "hb");  // The shared body stays.
  EXPECT_EQ(store->Usage()->blobs, 2);
  // A runner still holding the deleted task writes nothing.
  EXPECT_THAT(store->OpenRound({"a", 2, RoundState::kOpen, 1, 0, ""}),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->CloseRound({"a", 1, RoundState::kCommitted, 1, 2, ""}, {WithBody("a", 1, body, "x")}),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->CommitVersions({WithBody("a", 1, body, "x")}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->UpdateTaskConfig("a", "c2"), StatusIs(absl::StatusCode::kNotFound));
  // Whatever those refused writes left on disk is garbage.
  EXPECT_EQ(*store->CollectGarbage(), 1);
  EXPECT_EQ(store->Usage()->blobs, 2);
}

TEST(SqliteStoreTest, TheAuditLogIsDurableAndNewestFirst) {
  const std::string dir = Dir("audit");
  {
    auto store = *SqliteStore::Open(dir);
    for (const char* task : {"a", "b", "a"}) {
      AuditRow row{0, 1000, "alice", "PauseTask", task, "", "ok"};
      ASSERT_THAT(store->AppendAudit(row), IsOk());
      EXPECT_GT(row.seq, 0);
    }
  }
  auto store = *SqliteStore::Open(dir);
  std::vector<AuditRow> all = *store->Audit("", 0);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_GT(all[0].seq, all[1].seq);
  EXPECT_GT(all[1].seq, all[2].seq);
  EXPECT_EQ(all[0].who, "alice");
  EXPECT_EQ(store->Audit("a", 0)->size(), 2u);
  EXPECT_EQ(store->Audit("", 1)->size(), 1u);
  EXPECT_EQ(store->Audit("a", 1)->at(0).seq, all[0].seq);
}

TEST(SqliteStoreTest, UpdatedConfigSurvivesReopen) {
  const std::string dir = Dir("update");
  {
    auto store = *SqliteStore::Open(dir);
    ASSERT_THAT(store->CreateTask({"t", "old", 1, 1}, {Version("t", 0, 0, "m")}), IsOk());
    ASSERT_THAT(store->UpdateTaskConfig("t", "new"), IsOk());
  }
  EXPECT_EQ((*SqliteStore::Open(dir))->Tasks()->at(0).config, "new");
}

TEST(SqliteStoreTest, GarbageCollectionRemovesOnlyUnreferencedBlobs) {
  const std::string dir = Dir("gc");
  auto store = *SqliteStore::Open(dir);
  ASSERT_THAT(store->CreateTask({"t", "c", 1, 1}, {Version("t", 0, 0, "kept")}), IsOk());
  // A blob written by a commit that never reached its transaction (a crash).
  ASSERT_THAT(WriteFileAtomically(dir + "/blobs/t-c0-v1-0123456789abcdef.model", "orphan"), IsOk());
  ASSERT_THAT(WriteFileAtomically(dir + "/blobs/t-c0-v1-0123456789abcdef.model.tmp.99", "x"), IsOk());
  absl::StatusOr<int> removed = store->CollectGarbage();
  ASSERT_THAT(removed, IsOk());
  EXPECT_EQ(*removed, 2);
  EXPECT_THAT(ReadFile(dir + "/blobs/t-c0-v1-0123456789abcdef.model"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(store->LatestVersions("t")->at(0).model, "kept");  // Committed blob intact.
  EXPECT_EQ(*store->CollectGarbage(), 0);
}

TEST(SqliteStoreTest, GarbageCollectionNeverRemovesBlobsItCannotProveOrphaned) {
  const std::string dir = Dir("gc-keep");
  auto store = *SqliteStore::Open(dir);
  ASSERT_THAT(store->CreateTask({"t", "c", 1, 1}, {Version("t", 0, 0, "a")}), IsOk());
  ASSERT_THAT(store->OpenRound({"t", 1, RoundState::kOpen, 1, 0, ""}), IsOk());
  ASSERT_THAT(store->CloseRound({"t", 1, RoundState::kCommitted, 1, 2, ""}, {Version("t", 0, 1, "b")}),
              IsOk());
  // Unreferenced but not newer than version 1 of its line: not provably a crash
  // leftover (say, a version restored by hand). Kept.
  const std::string old = dir + "/blobs/t-c0-v1-fedcba9876543210.model";
  ASSERT_THAT(WriteFileAtomically(old, "restored"), IsOk());
  EXPECT_EQ(*store->CollectGarbage(), 0);
  EXPECT_THAT(ReadFile(old), IsOk());
}

TEST(SqliteStoreTest, MissingOrEmptyStateBesideBlobsIsRefusedAndNothingDeleted) {
  const std::string dir = Dir("wiped");
  {
    auto store = *SqliteStore::Open(dir);
    ASSERT_THAT(store->CreateTask({"t", "c", 1, 1}, {Version("t", 0, 0, "weights")}), IsOk());
  }
  const std::string blob = dir + "/blobs/" + DigestToHex(*Sha256("weights")) + ".blob";
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((dir + "/state.db" + suffix).c_str());
  EXPECT_THAT(SqliteStore::Open(dir),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::AllOf(::testing::HasSubstr("state.db"),
                                                                     ::testing::HasSubstr("blobs"))));
  ASSERT_THAT(WriteFileAtomically(dir + "/state.db", ""), IsOk());  // Empty, not missing.
  EXPECT_THAT(SqliteStore::Open(dir), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(SqliteStore::Open(dir), StatusIs(absl::StatusCode::kDataLoss));  // Still, after a try.
  EXPECT_THAT(ReadFile(blob), IsOk());
}

TEST(SqliteStoreTest, OneProcessAtATimeHoldsTheDirectory) {
  const std::string dir = Dir("locked");
  {
    auto first = SqliteStore::Open(dir);
    ASSERT_THAT(first, IsOk());
    EXPECT_THAT(SqliteStore::Open(dir),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         ::testing::HasSubstr("in use by another coordinator")));
  }
  EXPECT_THAT(SqliteStore::Open(dir), IsOk());  // Released with the first store.
}

TEST(SqliteStoreTest, IntegrityCheckPassesOnAHealthyStore) {
  auto store = *SqliteStore::Open(Dir("integrity"));
  ASSERT_THAT(store->CreateTask({"t", "c", 1, 1}, {Version("t", 0, 0, "a")}), IsOk());
  EXPECT_THAT(store->CheckIntegrity(), IsOk());
}

TEST(SqliteStoreTest, IntegrityCheckFindsADamagedDatabase) {
  const std::string dir = Dir("damaged");
  {
    auto store = *SqliteStore::Open(dir);
    ASSERT_THAT(store->CreateTask({"t", "c", 1, 1}, {Version("t", 0, 0, "a")}), IsOk());
    for (int r = 1; r <= 300; ++r) {  // Enough rows for many b-tree pages.
      ASSERT_THAT(store->OpenRound({"t", r, RoundState::kOpen, r, 0, std::string(500, 'i')}), IsOk());
    }
  }  // Closing checkpoints the WAL into state.db.
  absl::StatusOr<std::string> db = ReadFile(dir + "/state.db");
  ASSERT_THAT(db, IsOk());
  ASSERT_GT(db->size(), 40000u);
  std::string damaged = *db;
  for (size_t i = 3 * 4096 + 8; i < 3 * 4096 + 200; ++i) damaged[i] = static_cast<char>(i * 37);
  ASSERT_THAT(WriteFileAtomically(dir + "/state.db", damaged), IsOk());
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(dir);
  if (store.ok()) {
    EXPECT_THAT((*store)->CheckIntegrity(), StatusIs(absl::StatusCode::kDataLoss));
  } else {
    EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);  // Refused at open: also fine.
  }
}

TEST(SqliteStoreTest, UnwritableDirectoryIsAClearError) {
  EXPECT_THAT(SqliteStore::Open("/proc/fedtiny-cannot-exist"),
              StatusIs(absl::StatusCode::kInternal));
}

}  // namespace
}  // namespace fedtiny::coordinator
