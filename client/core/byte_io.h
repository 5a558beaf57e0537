// The portable core's small binary formats (the parts of tools/base/byte_io.h
// the core uses, standard library only): fixed-size values appended to a
// string, read back with bounds checks, and a SHA-256 trailer computed through
// the platform's Crypto. The bytes are the same as tools/base/byte_io's, so
// files written by either read with the other. Values are in host byte order.
#ifndef FEDTINY_CLIENT_CORE_BYTE_IO_H_
#define FEDTINY_CLIENT_CORE_BYTE_IO_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "client/core/platform.h"
#include "client/core/status.h"

namespace fedtiny::client {

template <typename T>
void PutValue(std::string& out, const T& v) {
  static_assert(std::is_trivially_copyable_v<T>, "plain values only");
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

// A length (uint64) then the floats.
void PutFloats(std::string& out, const std::vector<float>& v);

// ByteReader reads values in order; every read fails (returns false) once the
// input is exhausted. Borrows the bytes. Not thread-safe.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  template <typename T>
  bool Get(T& v) {
    static_assert(std::is_trivially_copyable_v<T>, "plain values only");
    if (in_.size() < sizeof(T)) return false;
    std::memcpy(&v, in_.data(), sizeof(T));
    in_.remove_prefix(sizeof(T));
    return true;
  }
  // Exactly n bytes.
  bool GetBytes(size_t n, std::string& out);
  // A length (uint64) then that many floats, as PutFloats wrote them.
  bool GetFloats(std::vector<float>& v);
  // Exactly n floats (no length prefix).
  bool GetRawFloats(size_t n, float* out);
  bool AtEnd() const { return in_.empty(); }
  std::string_view rest() const { return in_; }

 private:
  std::string_view in_;
};

// Appends the SHA-256 of `body` to it (a zero digest if the hash fails, which
// then never verifies).
std::string WithSha256Trailer(std::string body, const Crypto& crypto);

// Checks the trailer and returns the body before it; kDataLoss naming `what`
// when the bytes are too short or the hash does not match.
StatusOr<std::string_view> VerifySha256Trailer(std::string_view bytes, std::string_view what,
                                               const Crypto& crypto);

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_BYTE_IO_H_
