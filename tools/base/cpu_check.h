// Refuses to run a binary built for instruction sets this CPU lacks.
//
// --config=x86_64_v3 (.bazelrc) compiles for AVX2 and FMA; such a binary would
// die of SIGILL at some arbitrary instruction on an older x86. Linking
// //tools/base:cpu_check adds a start-up check that runs before any static
// initializer of the program and exits with status 1 and a one-line message
// instead. A portable build (no __AVX2__/__FMA__) checks nothing.
//
// Free functions without state; thread-safe.
#ifndef FEDTINY_TOOLS_BASE_CPU_CHECK_H_
#define FEDTINY_TOOLS_BASE_CPU_CHECK_H_

#include <string>

#include "absl/status/status.h"

namespace fedtiny {

// CpuSupportsBuild returns OK when the CPU has every instruction set the binary
// was compiled for, else kFailedPrecondition naming the missing ones.
absl::Status CpuSupportsBuild();

// BuildInstructionSets names the optional instruction sets the binary was
// compiled for ("AVX2 FMA"), or "portable".
std::string BuildInstructionSets();

// CpuModelName returns /proc/cpuinfo's "model name" (e.g. "Intel(R) Xeon(R)
// Processor"), or "unknown" where there is none. Benchmarks print it.
std::string CpuModelName();

}  // namespace fedtiny

#endif  // FEDTINY_TOOLS_BASE_CPU_CHECK_H_
