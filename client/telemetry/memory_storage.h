// A client::Storage in memory, for tests: a map of path -> bytes, shared by
// the objects a test "restarts" so they read what the previous ones wrote.
// A write can be made to fail (fail_writes). Not thread-safe.
#ifndef FEDTINY_CLIENT_TELEMETRY_MEMORY_STORAGE_H_
#define FEDTINY_CLIENT_TELEMETRY_MEMORY_STORAGE_H_

#include <map>
#include <string>
#include <string_view>

#include "client/core/platform.h"

namespace fedtiny::client::telemetry {

class MemoryStorage final : public Storage {
 public:
  StatusOr<std::string> ReadFile(const std::string& path) override {
    auto it = files.find(path);
    if (it == files.end()) return NotFoundError(path + " not found");
    return it->second;
  }
  Status WriteFileAtomically(const std::string& path,
                             std::string_view contents) override {
    if (fail_writes) return InternalError("cannot write " + path);
    files[path] = std::string(contents);
    return OkStatus();
  }
  Status Remove(const std::string& path) override {
    files.erase(path);
    return OkStatus();
  }
  bool Exists(const std::string& path) override {
    return files.count(path) > 0;
  }

  std::map<std::string, std::string> files;
  bool fail_writes = false;
};

}  // namespace fedtiny::client::telemetry

#endif  // FEDTINY_CLIENT_TELEMETRY_MEMORY_STORAGE_H_
