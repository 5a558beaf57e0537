// Splits one fuzz input into typed fields. Reads past the end yield zeros and
// empty strings, so every byte string is a valid program for a harness: the
// fuzzer never wastes time on inputs that are merely too short.
#ifndef FEDTINY_TESTS_FUZZ_FUZZ_INPUT_H_
#define FEDTINY_TESTS_FUZZ_FUZZ_INPUT_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

namespace fedtiny::fuzz {

// Borrows the bytes. Values are little-endian. Not thread-safe.
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  bool empty() const { return rest_.empty(); }
  size_t size() const { return rest_.size(); }

  template <typename T>
  T Take() {
    T v{};
    const size_t n = std::min(sizeof(T), rest_.size());
    if (n > 0) std::memcpy(&v, rest_.data(), n);
    rest_.remove_prefix(n);
    return v;
  }
  // Up to n bytes.
  std::string Bytes(size_t n) {
    n = std::min(n, rest_.size());
    std::string out(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return out;
  }
  // A record: a uint16 length, then that many bytes (fewer at the end).
  std::string Record() { return Bytes(Take<uint16_t>()); }
  std::string Rest() { return Bytes(rest_.size()); }

 private:
  absl::string_view rest_;
};

// Appends what FuzzInput reads back: for the corpus generator.
template <typename T>
void PutLe(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}
inline void PutRecord(std::string& out, absl::string_view bytes) {
  PutLe<uint16_t>(out, static_cast<uint16_t>(bytes.size()));
  out.append(bytes.data(), bytes.size());
}

}  // namespace fedtiny::fuzz

#endif  // FEDTINY_TESTS_FUZZ_FUZZ_INPUT_H_
