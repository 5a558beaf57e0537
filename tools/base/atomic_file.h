// Crash-safe file replacement: write a temporary file beside the target, fsync
// it, rename it over the target, fsync the directory. A reader sees the old
// contents or the new, never a mix, even if the process is killed mid-write.
#ifndef FEDTINY_TOOLS_BASE_ATOMIC_FILE_H_
#define FEDTINY_TOOLS_BASE_ATOMIC_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fedtiny {

// Replaces `path` with `contents`. The file is created with `mode` (less the
// umask) from its first byte: a secret written with 0600 is never readable by
// others, not even for a moment. kInternal naming the path and errno text on
// failure; the target is then unchanged. Blocks on disk I/O.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents,
                                 int mode = 0644);

// Reads the whole file. kNotFound if absent, kInternal on other errors.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace fedtiny

#endif  // FEDTINY_TOOLS_BASE_ATOMIC_FILE_H_
