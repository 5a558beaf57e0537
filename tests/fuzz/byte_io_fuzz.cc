// Fuzzes the stored-file primitives of tools/base/byte_io.h that every device
// and server file format reads through: ByteReader and the SHA-256 trailer.
//
// Input: [mode: uint8][program length: uint8][program bytes][data...]. Mode
// even: the program is a list of reads on a ByteReader over the data; odd:
// trailer checks on the data.
//
// Invariants (against an independent model of the reader): a read succeeds
// exactly when enough bytes remain, returns exactly those bytes and advances by
// exactly their size; GetFloats reads its length prefix and refuses a count the
// rest cannot hold (no huge allocation), and PutFloats writes back the same
// bytes; a verified trailer means the body re-trails to the input; any one-byte
// change of trailed bytes is detected.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"
#include "tools/base/byte_io.h"

namespace fedtiny::fuzz {
namespace {

// Runs one read; returns false when it failed (the reader's position after a
// failed read is unspecified, so the program stops there).
template <typename T>
bool CheckGet(ByteReader& r, const std::string& data, size_t& pos) {
  T v{};
  const bool fits = data.size() - pos >= sizeof(T);
  FUZZ_CHECK(r.Get(v) == fits);
  if (!fits) return false;
  FUZZ_CHECK(std::memcmp(&v, data.data() + pos, sizeof(T)) == 0);
  pos += sizeof(T);
  return true;
}

bool Step(uint8_t op, ByteReader& r, const std::string& data, size_t& pos) {
  const size_t left = data.size() - pos;
  switch (op % 8) {
    case 0:
      return CheckGet<uint8_t>(r, data, pos);
    case 1:
      return CheckGet<uint32_t>(r, data, pos);
    case 2:
      return CheckGet<int64_t>(r, data, pos);
    case 3:
      return CheckGet<double>(r, data, pos);
    case 4: {
      const size_t n = static_cast<size_t>(op >> 3) * 7;
      std::string out;
      FUZZ_CHECK(r.GetBytes(n, out) == (left >= n));
      if (left < n) return false;
      FUZZ_CHECK(out == data.substr(pos, n));
      pos += n;
      return true;
    }
    case 5: {
      uint64_t n = 0;
      if (left >= 8) std::memcpy(&n, data.data() + pos, 8);
      const bool fits = left >= 8 && n <= (left - 8) / sizeof(float);
      std::vector<float> v;
      FUZZ_CHECK(r.GetFloats(v) == fits)
          << "GetFloats with count " << n << " and " << left << " bytes";
      if (!fits) return false;
      std::string back;
      PutFloats(back, v);
      FUZZ_CHECK(back == data.substr(pos, 8 + n * sizeof(float)));
      pos += back.size();
      return true;
    }
    case 6: {
      const size_t n = op >> 3;
      std::vector<float> v(n);
      FUZZ_CHECK(r.GetRawFloats(n, v.data()) == (left >= n * sizeof(float)));
      if (left < n * sizeof(float)) return false;
      FUZZ_CHECK(n == 0 || std::memcmp(v.data(), data.data() + pos,
                                       n * sizeof(float)) == 0);
      pos += n * sizeof(float);
      return true;
    }
    default:
      FUZZ_CHECK(r.AtEnd() == (left == 0));
      return true;
  }
}

void CheckReader(const std::string& program, const std::string& data) {
  ByteReader r(data);
  size_t pos = 0;
  for (uint8_t op : program) {
    if (!Step(op, r, data, pos)) return;
    FUZZ_CHECK(r.rest() == std::string_view(data).substr(pos))
        << "the reader lost its place";
  }
}

void CheckTrailer(const std::string& data, uint8_t flip) {
  absl::StatusOr<std::string_view> body = VerifySha256Trailer(data, "fuzz");
  if (body.ok()) {
    FUZZ_CHECK(data.size() >= 32 && body->size() == data.size() - 32);
    FUZZ_CHECK(WithSha256Trailer(std::string(*body)) == data);
  } else {
    FUZZ_CHECK(body.status().code() == absl::StatusCode::kDataLoss)
        << body.status();
  }
  std::string trailed = WithSha256Trailer(data);
  absl::StatusOr<std::string_view> back = VerifySha256Trailer(trailed, "fuzz");
  FUZZ_CHECK_OK(back);
  FUZZ_CHECK(*back == data);
  trailed[(data.size() * 131 + flip) % trailed.size()] ^=
      static_cast<char>(flip | 1);
  FUZZ_CHECK(VerifySha256Trailer(trailed, "fuzz").status().code() ==
             absl::StatusCode::kDataLoss)
      << "a changed byte went unnoticed";
}

}  // namespace
}  // namespace fedtiny::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedtiny::fuzz;
  FuzzInput in(data, size);
  const uint8_t mode = in.Take<uint8_t>();
  const std::string program = in.Bytes(in.Take<uint8_t>());
  const std::string rest = in.Rest();
  if (mode % 2 == 0) {
    CheckReader(program, rest);
  } else {
    CheckTrailer(rest, program.empty() ? 0 : static_cast<uint8_t>(program[0]));
  }
  return 0;
}
