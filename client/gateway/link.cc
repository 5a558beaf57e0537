#include "client/gateway/link.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace fedtiny::gateway {
namespace {

speed_t Speed(int baud) {
  switch (baud) {
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 230400: return B230400;
    case 460800: return B460800;
    case 921600: return B921600;
    default: return B115200;
  }
}

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::StatusOr<int> ConnectUnix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("unix socket path empty or too long: ", path));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket for", path);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const absl::Status s = Errno("cannot connect to", path);
    close(fd);
    return s;
  }
  return fd;
}

absl::StatusOr<int> OpenSerial(const std::string& path, int baud) {
  const int fd = open(path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  if (isatty(fd)) {  // Raw bytes: no echo, no line editing, no CR/LF mapping.
    termios t{};
    tcgetattr(fd, &t);
    cfmakeraw(&t);
    cfsetispeed(&t, Speed(baud));
    cfsetospeed(&t, Speed(baud));
    tcsetattr(fd, TCSANOW, &t);
  }
  return fd;
}

}  // namespace

absl::StatusOr<int> OpenLink(const std::string& spec, int baud) {
  if (spec.empty()) return absl::InvalidArgumentError("no link given");
  if (absl::StartsWith(spec, "unix:")) return ConnectUnix(spec.substr(5));
  return OpenSerial(spec, baud);
}

}  // namespace fedtiny::gateway
