// Small binary formats (tools/base/byte_reader.h) and a SHA-256 trailer, over
// OpenSSL, that detects truncation and corruption. Used by server-optimizer
// state and the tests; the device core has its own trailer over the platform's
// Crypto (client/core/byte_io.h), with the same bytes.
#ifndef FEDTINY_TOOLS_BASE_BYTE_IO_H_
#define FEDTINY_TOOLS_BASE_BYTE_IO_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "tools/base/byte_reader.h"

namespace fedtiny {

// Appends the SHA-256 of `body` to it.
std::string WithSha256Trailer(std::string body);

// Checks the trailer and returns the body before it; kDataLoss naming `what`
// when the bytes are too short or the hash does not match.
absl::StatusOr<std::string_view> VerifySha256Trailer(std::string_view bytes,
                                                     std::string_view what);

}  // namespace fedtiny

#endif  // FEDTINY_TOOLS_BASE_BYTE_IO_H_
