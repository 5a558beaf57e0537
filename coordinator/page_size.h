// The Admin API's page sizes (docs/protocol.md): 0 means the default (100), at
// most 1000, negative is an error. One rule for every paged list, whichever way
// its tokens work. Pure; thread-safe.
#ifndef FEDTINY_COORDINATOR_PAGE_SIZE_H_
#define FEDTINY_COORDINATOR_PAGE_SIZE_H_

#include <algorithm>

#include "absl/status/statusor.h"

namespace fedtiny::coordinator {

inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;

inline absl::StatusOr<int> PageSize(int requested) {
  if (requested < 0) return absl::InvalidArgumentError("page_size must be >= 0");
  return requested == 0 ? kDefaultPageSize : std::min(requested, kMaxPageSize);
}

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_PAGE_SIZE_H_
