#include "tools/base/logging.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "absl/time/time.h"

namespace fedtiny::logging {
namespace {

std::atomic<int> g_min_severity{-1};
std::atomic<int> g_format{-1};

int InitialFormat() {
  const char* env = std::getenv("FEDTINY_LOG_FORMAT");
  return env != nullptr && std::strcmp(env, "json") == 0 ? 1 : 0;
}

Format CurrentFormat() {
  int v = g_format.load(std::memory_order_relaxed);
  if (v < 0) {
    v = InitialFormat();
    g_format.store(v, std::memory_order_relaxed);
  }
  return static_cast<Format>(v);
}

int InitialSeverity() {
  const char* env = std::getenv("FEDTINY_MIN_LOG_LEVEL");
  if (env == nullptr || env[0] < '0' || env[0] > '3') return 0;
  return env[0] - '0';
}

const char* Basename(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash == nullptr ? path : slash + 1;
}

}  // namespace

Severity MinSeverity() {
  int v = g_min_severity.load(std::memory_order_relaxed);
  if (v < 0) {
    v = InitialSeverity();
    g_min_severity.store(v, std::memory_order_relaxed);
  }
  return static_cast<Severity>(v);
}

void SetMinSeverity(Severity s) {
  g_min_severity.store(static_cast<int>(s), std::memory_order_relaxed);
}

void SetFormat(Format f) { g_format.store(static_cast<int>(f), std::memory_order_relaxed); }

LogMessage::LogMessage(const char* file, int line, Severity severity)
    : severity_(severity), file_(Basename(file)), line_(line), time_(absl::Now()) {}

LogMessage::~LogMessage() {
  static const char* const kNames[] = {"INFO", "WARNING", "ERROR", "FATAL"};
  const std::string time = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time_, absl::UTCTimeZone());
  std::string line;
  if (CurrentFormat() == Format::kJson) {
    nlohmann::json j;
    j["time"] = time;
    j["severity"] = kNames[static_cast<int>(severity_)];
    j["file"] = file_;
    j["line"] = line_;
    j["message"] = stream_.str();
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  } else {
    line = absl::StrCat(time, " ", std::string(1, "IWEF"[static_cast<int>(severity_)]), " ", file_,
                        ":", line_, "] ", stream_.str(), "\n");
  }
  std::fwrite(line.data(), 1, line.size(), stderr);
  if (severity_ == Severity::kFatal) {
    std::fflush(stderr);
    std::abort();
  }
}

}  // namespace fedtiny::logging
