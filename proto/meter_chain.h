// The usage hash chain of metered inference (issue #14, docs/metering.md), as
// both sides compute it: h_i = SHA-256(h_{i-1} || le64 index || le64
// model_version || le64 time_us || le64 counter), h_0 = 32 zero bytes. The
// 64-byte link is fixed-size so a device hashes two SHA-256 blocks per call.
// Stateless functions; safe from any thread.
#ifndef FEDTINY_PROTO_METER_CHAIN_H_
#define FEDTINY_PROTO_METER_CHAIN_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "proto/meter.pb.h"
#include "tools/base/sha256.h"

namespace fedtiny::meter {

inline constexpr size_t kLinkBytes = 64;

// EncodeLink writes the bytes hashed for one record after `prev`.
void EncodeLink(const uint8_t (&prev)[32], uint64_t index,
                uint64_t model_version, int64_t time_us, uint64_t counter,
                uint8_t (&out)[kLinkBytes]);

// NextHash returns h_i from h_{i-1} and record i. kInternal if OpenSSL fails.
absl::StatusOr<Sha256Digest> NextHash(const Sha256Digest& prev,
                                      const UsageRecord& record);

// HashOfBytes turns a 32-byte string into a digest; kInvalidArgument otherwise.
absl::StatusOr<Sha256Digest> HashOfBytes(absl::string_view bytes);

// AsBytes returns the digest as a 32-byte string.
std::string AsBytes(const Sha256Digest& digest);

}  // namespace fedtiny::meter

#endif  // FEDTINY_PROTO_METER_CHAIN_H_
