#include "coordinator/sqlite_store.h"

#include <cstdlib>
#include <string>

#include "coordinator/testing/store_rows.h"
#include "gtest/gtest.h"
#include "tools/base/atomic_file.h"
#include "tools/base/sha256.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::coordinator {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using testing::Version;
using testing::WithBody;

std::string Dir(const std::string& name) {
  const char* d = std::getenv("TEST_TMPDIR");
  return std::string(d != nullptr ? d : "/tmp") + "/" + name;
}


// The Store contract itself runs for every implementation in
// store_conformance_test; what follows is SQLite's own: files, the directory
// lock, the legacy one-file-per-version layout.

TEST(SqliteStoreTest, RefusedWritesLeaveOnlyFilesThatGarbageCollectionRemoves) {
  const std::string dir = Dir("delete");
  const std::string body(1000, 'b');
  auto store = *SqliteStore::Open(dir);
  ASSERT_THAT(store->CreateTask({"b", "c", 1, 2}, {WithBody("b", 0, body, "hb")}), IsOk());
  // Blob files are written before the transaction, which then refuses.
  EXPECT_THAT(store->CommitVersions({WithBody("a", 1, body, "x")}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ReadFile(dir + "/blobs/" + DigestToHex(*Sha256("x")) + ".blob"), IsOk());
  EXPECT_EQ(*store->CollectGarbage(), 1);
  EXPECT_EQ(store->Usage()->blobs, 2);
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
