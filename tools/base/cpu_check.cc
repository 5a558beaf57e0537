#include "tools/base/cpu_check.h"

#include <unistd.h>

#include <fstream>

namespace fedtiny {
namespace {

// Everything below runs before the CPU is known to be able to run the rest of
// the binary: compiled for the baseline x86-64, and kept to system calls.
#if defined(__x86_64__) && (defined(__AVX2__) || defined(__FMA__))
#define FEDTINY_CPU_CHECK 1
#define FEDTINY_BASELINE __attribute__((target("arch=x86-64")))

// Appends `s` at out[*len]. Hand-written: libc's fortified string functions are
// always-inline and compiled for the binary's (possibly missing) target.
FEDTINY_BASELINE void Append(char* out, size_t* len, const char* s) {
  while (*s != '\0') out[(*len)++] = *s++;
  out[*len] = '\0';
}

// The missing sets, space-separated, in `out` (at least 16 chars; empty if
// none).
FEDTINY_BASELINE size_t MissingSets(char* out) {
  size_t len = 0;
  out[0] = '\0';
  __builtin_cpu_init();
#if defined(__AVX2__)
  if (!__builtin_cpu_supports("avx2")) Append(out, &len, " avx2");
#endif
#if defined(__FMA__)
  if (!__builtin_cpu_supports("fma")) Append(out, &len, " fma");
#endif
  return len;
}

// Priority 101: before the program's own static initializers, which the
// compiler may already have vectorized with AVX.
FEDTINY_BASELINE __attribute__((constructor(101))) void CheckAtStartUp() {
  char missing[32];
  const size_t len = MissingSets(missing);
  if (len == 0) return;
  static const char kHead[] =
      "fatal: this binary was built with --config=x86_64_v3 (AVX2, FMA), but "
      "this CPU "
      "lacks:";
  static const char kTail[] = ". Rebuild it without --config=x86_64_v3.\n";
  (void)!write(2, kHead, sizeof kHead - 1);
  (void)!write(2, missing, len);
  (void)!write(2, kTail, sizeof kTail - 1);
  _exit(1);
}
#endif

}  // namespace

absl::Status CpuSupportsBuild() {
#ifdef FEDTINY_CPU_CHECK
  char missing[32];
  if (MissingSets(missing) != 0) {
    return absl::FailedPreconditionError(
        std::string("built for x86-64-v3 (--config=x86_64_v3); this CPU lacks:") + missing);
  }
#endif
  return absl::OkStatus();
}

std::string BuildInstructionSets() {
  std::string sets;
#if defined(__AVX2__)
  sets += "AVX2 ";
#endif
#if defined(__FMA__)
  sets += "FMA ";
#endif
  if (sets.empty()) return "portable";
  sets.pop_back();
  return sets;
}

std::string CpuModelName() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
  }
  return "unknown";
}

}  // namespace fedtiny
