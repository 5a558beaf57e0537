#include "client/transport/metadata_fetcher.h"

namespace fedtiny::client {

absl::StatusOr<std::string> GrpcFetcher::Fetch(const std::string& path, size_t max_bytes,
                                               absl::Time deadline) {
  const absl::Duration left = deadline - clock_.Now();
  if (left <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError("metadata: deadline passed before " + path);
  }
  absl::StatusOr<std::string> data = session_.GetMetadata(path, max_bytes, left);
  if (data.ok()) {
    bytes_ += static_cast<int64_t>(data->size());
    ++files_;
  }
  return data;
}

}  // namespace fedtiny::client
