#include "client/gateway/link.h"

#include <pty.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace fedtiny::gateway {
namespace {

// A socket's path must fit sun_path (108 bytes), which $TEST_TMPDIR may not:
// a short directory of the test's own under /tmp.
// Removed (empty) when the test program ends.
struct TmpDir {
  TmpDir() {
    char tmpl[] = "/tmp/fedtiny-link-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TmpDir() { rmdir(path.c_str()); }
  std::string path;
};

std::string TmpPath(const std::string& name) {
  static TmpDir dir;
  return dir.path + "/" + name;
}

int Listen(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  EXPECT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0) << std::strerror(errno);
  EXPECT_EQ(listen(fd, 1), 0);
  return fd;
}

TEST(LinkTest, ConnectsToAUnixSocketAndCarriesBytesBothWays) {
  const std::string path = TmpPath("serial.sock");
  const int server = Listen(path);
  absl::StatusOr<int> link = OpenLink("unix:" + path, 115200);
  ASSERT_TRUE(link.ok()) << link.status();
  const int peer = accept(server, nullptr, nullptr);
  ASSERT_GE(peer, 0);
  ASSERT_EQ(write(*link, "FT\x01", 3), 3);
  char buf[8] = {};
  ASSERT_EQ(read(peer, buf, sizeof(buf)), 3);
  EXPECT_EQ(std::string(buf, 3), "FT\x01");
  ASSERT_EQ(write(peer, "ok", 2), 2);
  ASSERT_EQ(read(*link, buf, sizeof(buf)), 2);
  EXPECT_EQ(std::string(buf, 2), "ok");
  close(peer);  // The device side goes away: the link reads end of file.
  EXPECT_EQ(read(*link, buf, sizeof(buf)), 0);
  close(*link);
  close(server);
  unlink(path.c_str());
}

TEST(LinkTest, OpensAPtyRaw) {
  int master = -1, slave = -1;
  char name[128];
  ASSERT_EQ(openpty(&master, &slave, name, nullptr, nullptr), 0);
  absl::StatusOr<int> link = OpenLink(name, 921600);
  ASSERT_TRUE(link.ok()) << link.status();
  // Raw: a CR from the device arrives as a CR, not as a newline.
  ASSERT_EQ(write(master, "a\rb", 3), 3);
  char buf[8] = {};
  ASSERT_EQ(read(*link, buf, sizeof(buf)), 3);
  EXPECT_EQ(std::string(buf, 3), "a\rb");
  close(*link);
  close(slave);
  close(master);
}

TEST(LinkTest, RefusesWhatItCannotOpen) {
  EXPECT_EQ(OpenLink("", 115200).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenLink("unix:" + std::string(200, 'x'), 115200).status().code(),
            absl::StatusCode::kInvalidArgument);
  const absl::Status nobody = OpenLink("unix:" + TmpPath("nobody.sock"), 115200).status();
  EXPECT_EQ(nobody.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(nobody.message().find("nobody.sock"), std::string::npos) << nobody;
  EXPECT_EQ(OpenLink(TmpPath("no-such-tty"), 115200).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace fedtiny::gateway
