// A per-process scratch file for harnesses that read through a path
// (checkpoints, the example store): under /dev/shm when it exists, removed at
// exit.
#ifndef FEDTINY_TESTS_FUZZ_SCRATCH_FILE_H_
#define FEDTINY_TESTS_FUZZ_SCRATCH_FILE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace fedtiny::fuzz {

// A directory private to this process, created on first use.
const std::string& ScratchDir();

// Writes `bytes` to ScratchDir()/name (plainly: the harness controls every
// byte) and returns the path.
std::string WriteScratch(const std::string& name, absl::string_view bytes);

}  // namespace fedtiny::fuzz

#endif  // FEDTINY_TESTS_FUZZ_SCRATCH_FILE_H_
