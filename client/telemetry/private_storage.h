// A client::Storage (client/core/platform.h) over POSIX files whose every
// write creates the file with mode 0600 from its first byte
// (tools/base/atomic_file.h): the consent record and the privacy budget are
// the user's business only. (LinuxPlatform's storage writes 0644.)
//
// Stateless; thread-safe as the file system is (one writer per path).
#ifndef FEDTINY_CLIENT_TELEMETRY_PRIVATE_STORAGE_H_
#define FEDTINY_CLIENT_TELEMETRY_PRIVATE_STORAGE_H_

#include <string>
#include <string_view>

#include "client/core/platform.h"

namespace fedtiny::client::telemetry {

class PrivateFileStorage final : public Storage {
 public:
  StatusOr<std::string> ReadFile(const std::string& path) override;
  // Atomic replace (write, fsync, rename, fsync the directory), mode 0600.
  Status WriteFileAtomically(const std::string& path,
                             std::string_view contents) override;
  Status Remove(const std::string& path) override;
  bool Exists(const std::string& path) override;
};

}  // namespace fedtiny::client::telemetry

#endif  // FEDTINY_CLIENT_TELEMETRY_PRIVATE_STORAGE_H_
