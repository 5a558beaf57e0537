// Runs a program as a child process for end-to-end tests: reads its stdout line by
// line with a deadline, sends it signals, reaps it.
#ifndef FEDTINY_TESTS_CHILD_PROCESS_H_
#define FEDTINY_TESTS_CHILD_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fedtiny::testing {

// ChildProcess owns one child; the destructor kills (SIGKILL) and reaps it if it
// is still running. Not thread-safe. Move-only.
class ChildProcess {
 public:
  // Spawn starts argv[0] (a path) with the arguments; stdout is captured, stderr
  // is inherited. kInternal if the process cannot be started.
  static absl::StatusOr<ChildProcess> Spawn(const std::vector<std::string>& argv);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ~ChildProcess();

  // ReadLine blocks until the child writes a full line to stdout (returned without
  // the newline), `timeout` passes (kDeadlineExceeded) or stdout closes
  // (kUnavailable).
  absl::StatusOr<std::string> ReadLine(absl::Duration timeout);
  // Signal sends `sig` to the child.
  void Signal(int sig);
  // Wait blocks until the child exits and returns its raw wait status.
  int Wait();
  pid_t pid() const { return pid_; }

 private:
  ChildProcess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}
  pid_t pid_;
  int stdout_fd_;
  bool reaped_ = false;
  std::string buffer_;
};

}  // namespace fedtiny::testing

#endif  // FEDTINY_TESTS_CHILD_PROCESS_H_
