// Status propagation macros. Debian's Abseil (20220623) predates
// ABSL_RETURN_IF_ERROR / ABSL_ASSIGN_OR_RETURN, so the project defines its own.
#ifndef FEDTINY_TOOLS_BASE_STATUS_MACROS_H_
#define FEDTINY_TOOLS_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// RETURN_IF_ERROR(expr): evaluates `expr` (an absl::Status) once and returns it
// from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                                   \
  do {                                                          \
    ::absl::Status fedtiny_status_ = (expr);                    \
    if (!fedtiny_status_.ok()) return fedtiny_status_;          \
  } while (false)

#define FEDTINY_CONCAT_INNER_(a, b) a##b
#define FEDTINY_CONCAT_(a, b) FEDTINY_CONCAT_INNER_(a, b)

// ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (an absl::StatusOr<T>) once; on
// error returns its status, otherwise moves the value into `lhs`, which may be a
// declaration (`auto x`) or an existing variable.
#define ASSIGN_OR_RETURN(lhs, expr)                                       \
  FEDTINY_ASSIGN_OR_RETURN_IMPL_(FEDTINY_CONCAT_(fedtiny_sor_, __LINE__), \
                                 lhs, expr)
#define FEDTINY_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return std::move(tmp).status();       \
  lhs = *std::move(tmp)

#endif  // FEDTINY_TOOLS_BASE_STATUS_MACROS_H_
