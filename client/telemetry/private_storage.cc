#include "client/telemetry/private_storage.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "client/platform/linux/status_bridge.h"
#include "tools/base/atomic_file.h"

namespace fedtiny::client::telemetry {

StatusOr<std::string> PrivateFileStorage::ReadFile(const std::string& path) {
  return FromAbsl(::fedtiny::ReadFile(path));
}

Status PrivateFileStorage::WriteFileAtomically(const std::string& path,
                                               std::string_view contents) {
  return FromAbsl(::fedtiny::WriteFileAtomically(
      path, absl::string_view(contents.data(), contents.size()), 0600));
}

Status PrivateFileStorage::Remove(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return InternalError(
        absl::StrCat("cannot delete ", path, ": ", std::strerror(errno)));
  }
  return OkStatus();
}

bool PrivateFileStorage::Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

}  // namespace fedtiny::client::telemetry
