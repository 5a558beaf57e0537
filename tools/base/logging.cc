#include "tools/base/logging.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fedtiny::logging {
namespace {

std::atomic<int> g_min_severity{-1};

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

LogMessage::LogMessage(const char* file, int line, Severity severity)
    : severity_(severity) {
  static const char kLetters[] = "IWEF";
  stream_ << kLetters[static_cast<int>(severity)]
          << absl::FormatTime("%m%d %H:%M:%E3S", absl::Now(),
                              absl::UTCTimeZone())
          << ' ' << Basename(file) << ':' << line << "] ";
}

LogMessage::~LogMessage() {
  stream_ << '\n';
  const std::string line = stream_.str();
  std::fwrite(line.data(), 1, line.size(), stderr);
  if (severity_ == Severity::kFatal) {
    std::fflush(stderr);
    std::abort();
  }
}

}  // namespace fedtiny::logging
