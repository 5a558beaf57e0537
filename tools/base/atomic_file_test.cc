#include "tools/base/atomic_file.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

std::string TempDir() {
  const char* d = std::getenv("TEST_TMPDIR");
  return d != nullptr ? d : "/tmp";
}

TEST(AtomicFileTest, ReplacesAndLeavesNoTemporaries) {
  const std::string dir = TempDir() + "/atomic";
  mkdir(dir.c_str(), 0755);
  const std::string path = dir + "/model.bin";
  ASSERT_THAT(WriteFileAtomically(path, "first"), IsOk());
  ASSERT_THAT(WriteFileAtomically(path, std::string(100000, 'x')), IsOk());
  absl::StatusOr<std::string> got = ReadFile(path);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, std::string(100000, 'x'));
  int entries = 0;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d)) entries += e->d_name[0] != '.';
  closedir(d);
  EXPECT_EQ(entries, 1);
}

TEST(AtomicFileTest, ErrorsNameThePath) {
  EXPECT_THAT(ReadFile(TempDir() + "/absent"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(WriteFileAtomically("/nonexistent-dir/x", "y"),
              StatusIs(absl::StatusCode::kInternal, ::testing::HasSubstr("/nonexistent-dir/x")));
}

TEST(AtomicFileTest, SecretsAreCreatedWithTheirModeEvenOverAStaleTemporary) {
  const std::string dir = TempDir() + "/atomic-mode";
  mkdir(dir.c_str(), 0755);
  const std::string path = dir + "/admin.token";
  // A temporary left by a killed process with our pid, readable by everyone.
  const std::string stale = path + ".tmp." + std::to_string(getpid());
  ASSERT_THAT(WriteFileAtomically(stale, "old"), IsOk());
  chmod(stale.c_str(), 0666);
  ASSERT_THAT(WriteFileAtomically(path, "secret", 0600), IsOk());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(stat(stale.c_str(), &st), 0);  // Consumed, not left behind.
}

}  // namespace
}  // namespace fedtiny
