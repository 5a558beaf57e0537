// Small binary formats, standard library only (the device core uses them too):
// fixed-size values appended to a string and read back with bounds checks.
// Values are written in host byte order (the files stay on the machine that
// wrote them). tools/base/byte_io.h adds a SHA-256 trailer over OpenSSL,
// client/core/byte_io.h one over the platform's Crypto.
#ifndef FEDTINY_TOOLS_BASE_BYTE_READER_H_
#define FEDTINY_TOOLS_BASE_BYTE_READER_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

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

}  // namespace fedtiny

#endif  // FEDTINY_TOOLS_BASE_BYTE_READER_H_
