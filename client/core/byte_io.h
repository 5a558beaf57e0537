// The portable core's small binary formats: tools/base/byte_reader.h's values
// and reader, and a SHA-256 trailer computed through the platform's Crypto. The
// bytes are the same as tools/base/byte_io's trailer, so files written by
// either read with the other.
#ifndef FEDTINY_CLIENT_CORE_BYTE_IO_H_
#define FEDTINY_CLIENT_CORE_BYTE_IO_H_

#include <string>
#include <string_view>

#include "client/core/platform.h"
#include "client/core/status.h"
#include "tools/base/byte_reader.h"

namespace fedtiny::client {

// The values and the reader are tools/base's (standard library only).
using ::fedtiny::ByteReader;
using ::fedtiny::PutFloats;
using ::fedtiny::PutValue;

// Appends the SHA-256 of `body` to it (a zero digest if the hash fails, which
// then never verifies).
std::string WithSha256Trailer(std::string body, const Crypto& crypto);
// The same in place: no allocation when `body` has room for 32 more bytes.
void AppendSha256Trailer(std::string& body, const Crypto& crypto);

// Checks the trailer and returns the body before it; kDataLoss naming `what`
// when the bytes are too short or the hash does not match.
StatusOr<std::string_view> VerifySha256Trailer(std::string_view bytes, std::string_view what,
                                               const Crypto& crypto);

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_BYTE_IO_H_
