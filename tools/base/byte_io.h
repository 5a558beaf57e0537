// Small binary formats: fixed-size values appended to a string, read back with
// bounds checks, and a SHA-256 trailer that detects truncation and corruption.
// Used by checkpoints, the example store and server-optimizer state. Values are
// written in host byte order (the files stay on the machine that wrote them).
#ifndef FEDTINY_TOOLS_BASE_BYTE_IO_H_
#define FEDTINY_TOOLS_BASE_BYTE_IO_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fedtiny {

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
  explicit ByteReader(absl::string_view in) : in_(in) {}
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
  absl::string_view rest() const { return in_; }

 private:
  absl::string_view in_;
};

// Appends the SHA-256 of `body` to it.
std::string WithSha256Trailer(std::string body);

// Checks the trailer and returns the body before it; kDataLoss naming `what`
// when the bytes are too short or the hash does not match.
absl::StatusOr<absl::string_view> VerifySha256Trailer(absl::string_view bytes,
                                                      absl::string_view what);

}  // namespace fedtiny

#endif  // FEDTINY_TOOLS_BASE_BYTE_IO_H_
