// The portable core's status type: client/core runs on microcontrollers
// (standard library and Eigen only, docs/client.md), so it cannot use
// absl::Status. Status and StatusOr<T> keep absl's shape and codes (the numeric
// values are absl's, so the Linux bridge, client/platform/linux/status_bridge.h,
// converts one to the other without a table) and the messages are the ones the
// core always gave.
//
// The message is a std::string, not a fixed-capacity buffer: messages name
// file paths and sizes and must stay identical on Linux, and the OK path (the
// only one on a device's hot loops) holds an empty string, which allocates
// nothing. A device short of heap sees at most one allocation per error.
//
// Status and StatusOr are values: copyable (StatusOr<T> when T is), not
// thread-safe to mutate, safe to read from several threads.
#ifndef FEDTINY_CLIENT_CORE_STATUS_H_
#define FEDTINY_CLIENT_CORE_STATUS_H_

#include <cstdlib>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace fedtiny::client {

// absl::StatusCode's values, the ones the core returns (and kNotFound, which
// the platform's storage returns for a missing file).
enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// A code and, when not OK, a message.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message)
      : code_(code), message_(code == StatusCode::kOk ? std::string() : std::move(message)) {}

  // ok() is true for kOk.
  [[nodiscard]] bool ok() const { return code_ == StatusCode::kOk; }
  // code() is the status code.
  [[nodiscard]] StatusCode code() const { return code_; }
  // message() is empty when ok().
  [[nodiscard]] const std::string& message() const { return message_; }
  // IgnoreError() says the caller drops the status on purpose.
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }
  friend bool operator!=(const Status& a, const Status& b) { return !(a == b); }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status OkStatus() { return Status(); }
inline Status InvalidArgumentError(std::string m) {
  return Status(StatusCode::kInvalidArgument, std::move(m));
}
inline Status NotFoundError(std::string m) { return Status(StatusCode::kNotFound, std::move(m)); }
inline Status FailedPreconditionError(std::string m) {
  return Status(StatusCode::kFailedPrecondition, std::move(m));
}
inline Status ResourceExhaustedError(std::string m) {
  return Status(StatusCode::kResourceExhausted, std::move(m));
}
inline Status InternalError(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }
inline Status DataLossError(std::string m) { return Status(StatusCode::kDataLoss, std::move(m)); }

// A T or the non-OK Status saying why there is none. Reading the value of a
// non-OK StatusOr aborts (the core has no exceptions).
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  // A non-OK status; an OK one becomes kInternal (there is no value).
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT: implicit, as absl's
    if (status_.ok()) status_ = InternalError("OK status given to StatusOr without a value");
  }
  template <typename U = T,
            typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                        !std::is_same_v<std::decay_t<U>, Status> &&
                                        !std::is_same_v<std::decay_t<U>, StatusOr>>>
  StatusOr(U&& value) : value_(std::forward<U>(value)) {}  // NOLINT: implicit, as absl's

  [[nodiscard]] bool ok() const { return status_.ok(); }
  [[nodiscard]] const Status& status() const& { return status_; }
  [[nodiscard]] Status status() && { return std::move(status_); }

  const T& value() const& { return Checked(), *value_; }
  T& value() & { return Checked(), *value_; }
  T&& value() && { return Checked(), std::move(*value_); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  void Checked() const {
    if (!value_.has_value()) std::abort();
  }

  Status status_;
  std::optional<T> value_;
};

}  // namespace fedtiny::client

// Core-local propagation macros, named apart from tools/base/status_macros.h's
// (which are absl's) so a file may include both.
#define CLIENT_RETURN_IF_ERROR(expr)                            \
  do {                                                          \
    ::fedtiny::client::Status client_status_ = (expr);          \
    if (!client_status_.ok()) return client_status_;            \
  } while (false)

#define CLIENT_CONCAT_INNER_(a, b) a##b
#define CLIENT_CONCAT_(a, b) CLIENT_CONCAT_INNER_(a, b)

// CLIENT_ASSIGN_OR_RETURN(lhs, expr): `expr` is a client::StatusOr<T>; on error
// returns its status, otherwise moves the value into `lhs` (a declaration or an
// existing variable).
#define CLIENT_ASSIGN_OR_RETURN(lhs, expr) \
  CLIENT_ASSIGN_OR_RETURN_IMPL_(CLIENT_CONCAT_(client_sor_, __LINE__), lhs, expr)
#define CLIENT_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).status();      \
  lhs = *std::move(tmp)

#endif  // FEDTINY_CLIENT_CORE_STATUS_H_
