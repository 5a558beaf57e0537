// A minimal logging facility (Debian's Abseil has no absl/log):
//   FT_LOG(INFO) << "round " << r << " committed";
// Lines go to stderr as "2026-11-22T01:02:03.456Z I file.cc:42] message" (RFC 3339
// time in UTC, the zone written), or, in the JSON format, as one object per line:
// {"time":"2026-11-22T01:02:03.456Z","severity":"INFO","file":"file.cc","line":42,
// "message":"..."}. FT_LOG(FATAL) aborts after writing. Thread-safe: each line is
// written with one fwrite call.
// Never log secrets (tokens, keys): callers pass redacted values.
#ifndef FEDTINY_TOOLS_BASE_LOGGING_H_
#define FEDTINY_TOOLS_BASE_LOGGING_H_

#include <sstream>

#include "absl/time/time.h"

namespace fedtiny::logging {

enum class Severity { kInfo = 0, kWarning = 1, kError = 2, kFatal = 3 };

// Messages below this severity are dropped. Defaults to kInfo, or to the value of
// the FEDTINY_MIN_LOG_LEVEL environment variable (0-3) at the first log call.
Severity MinSeverity();
void SetMinSeverity(Severity s);

// Text by default, or JSON when the FEDTINY_LOG_FORMAT environment variable is
// "json" at the first log call; binaries set it from --log_format.
enum class Format { kText = 0, kJson = 1 };
void SetFormat(Format f);

// LogMessage collects one line and emits it from its destructor.
// Not thread-safe itself; each instance lives in one statement on one thread.
class LogMessage {
 public:
  LogMessage(const char* file, int line, Severity severity);
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  ~LogMessage();

  std::ostream& stream() { return stream_; }

 private:
  const Severity severity_;
  const char* const file_;
  const int line_;
  const absl::Time time_;
  std::ostringstream stream_;
};

// Swallows a stream expression when the severity is filtered out.
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace fedtiny::logging

#define FT_LOG_SEVERITY_INFO ::fedtiny::logging::Severity::kInfo
#define FT_LOG_SEVERITY_WARNING ::fedtiny::logging::Severity::kWarning
#define FT_LOG_SEVERITY_ERROR ::fedtiny::logging::Severity::kError
#define FT_LOG_SEVERITY_FATAL ::fedtiny::logging::Severity::kFatal

#define FT_LOG(sev)                                                      \
  (FT_LOG_SEVERITY_##sev < ::fedtiny::logging::MinSeverity())            \
      ? (void)0                                                          \
      : ::fedtiny::logging::Voidify() &                                  \
            ::fedtiny::logging::LogMessage(__FILE__, __LINE__,           \
                                           FT_LOG_SEVERITY_##sev)        \
                .stream()

#endif  // FEDTINY_TOOLS_BASE_LOGGING_H_
