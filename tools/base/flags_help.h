// `--help` that lists every flag of the binary. Abseil's default lists only the
// flags defined in a file named after the binary, and printed "No flags matched"
// for fedtiny's binaries, whose flags live in main.cc.
#ifndef FEDTINY_TOOLS_BASE_FLAGS_HELP_H_
#define FEDTINY_TOOLS_BASE_FLAGS_HELP_H_

namespace fedtiny {

// Call before absl::ParseCommandLine. Not thread-safe (process set-up).
void ListEveryFlagInHelp();

}  // namespace fedtiny

#endif  // FEDTINY_TOOLS_BASE_FLAGS_HELP_H_
