// Invariant checks for fuzz harnesses. A failed check prints where and why,
// then aborts, so that libFuzzer and tests/fuzz/replay_main.cc both keep the
// input that caused it. Unlike assert(), checks stay on in optimized builds.
#ifndef FEDTINY_TESTS_FUZZ_FUZZ_CHECK_H_
#define FEDTINY_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fedtiny::fuzz {

// Collects the message of a failed check; its destructor aborts. Not
// thread-safe (harnesses run one input at a time).
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition) {
    stream_ << file << ":" << line << ": invariant violated: " << condition
            << " ";
  }
  [[noreturn]] ~CheckFailure() {
    std::cerr << stream_.str() << std::endl;
    std::abort();
  }
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

// Swallows the stream expression of a check that held.
struct Voidify {
  void operator&(std::ostream&) {}
};

// Checks an invariant that a known, still open defect breaks (listed with its
// reproducer in tests/fuzz/FINDINGS.md). Fatal like FUZZ_CHECK, unless `id` is
// a line of the file named by $FEDTINY_FUZZ_OPEN_FINDINGS (the suite passes
// tests/fuzz/open_findings.txt): then the hit is counted and reported once, and
// false is returned so the harness stops working on this input. Once a defect
// is fixed, its id leaves open_findings.txt and the check guards the fix.
bool FindingHolds(const char* id, bool holds, const std::string& what,
                  const char* file, int line);

// For a defect whose input would run into undefined behaviour (an out-of-bounds
// access, a hang): true, after counting it, when `hit` and `id` is open, so the
// harness skips the input; false otherwise, and the harness then runs the input
// and checks that the fixed code refuses it.
bool SkipOpenFinding(const char* id, bool hit, const std::string& what);

inline absl::Status StatusOf(const absl::Status& s) { return s; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace fedtiny::fuzz

// FUZZ_CHECK(cond) << "details";  (safe inside an unbraced if/else)
#define FUZZ_CHECK(cond)             \
  (cond)                             \
      ? (void)0                      \
      : ::fedtiny::fuzz::Voidify() & \
            ::fedtiny::fuzz::CheckFailure(__FILE__, __LINE__, #cond).stream()

// FUZZ_CHECK_OK(status or statusor) << "details";  evaluates its argument once.
#define FUZZ_CHECK_OK(expr)                                                  \
  for (::absl::Status fuzz_check_status_ = ::fedtiny::fuzz::StatusOf(expr);  \
       !fuzz_check_status_.ok();)                                            \
  ::fedtiny::fuzz::CheckFailure(__FILE__, __LINE__, #expr " is OK").stream() \
      << fuzz_check_status_ << " "

// if (!FUZZ_FINDING("ID", cond, "what")) return 0;
#define FUZZ_FINDING(id, cond, what) \
  ::fedtiny::fuzz::FindingHolds(id, (cond), (what), __FILE__, __LINE__)

#endif  // FEDTINY_TESTS_FUZZ_FUZZ_CHECK_H_
