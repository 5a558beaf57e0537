// Opens the gateway's device link from its --link flag: a serial port or pty
// (a path: set raw, at the given speed when it is a tty), or "unix:PATH", a
// stream socket that another process listens on, e.g. QEMU's serial port
// (`-serial unix:PATH,server=on`), which is how tools/cross/mcu_round_test.sh
// connects a Cortex-M4 under QEMU. See docs/protocol.md, "Device link".
#ifndef FEDTINY_CLIENT_GATEWAY_LINK_H_
#define FEDTINY_CLIENT_GATEWAY_LINK_H_

#include <string>

#include "absl/status/statusor.h"

namespace fedtiny::gateway {

// OpenLink returns a blocking file descriptor the caller owns (and closes).
// kInvalidArgument for an empty spec or a unix: path longer than sun_path,
// kUnavailable (with the errno) when the path cannot be opened or the socket
// refuses the connection. A tty's speed is `baud` (115200 for an unknown rate).
absl::StatusOr<int> OpenLink(const std::string& spec, int baud);

}  // namespace fedtiny::gateway

#endif  // FEDTINY_CLIENT_GATEWAY_LINK_H_
