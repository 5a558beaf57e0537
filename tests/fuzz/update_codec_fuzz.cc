// Fuzzes the compressed update codec (tools/base/update_codec.h), the bytes a
// device sends as UploadRequest.compressed_delta.
//
// Input: [spec: uint8][dim: uint16][seed: uint64][mode: uint8][rest...].
// Mode even: `rest` is a compressed delta, decoded against the spec; odd:
// `rest` is read as float32 values, encoded, then decoded.
//
// Invariants (computed here, not by the code under test): a decode succeeds
// only for exactly CompressedBytes(spec, dim) bytes whose header carries the
// expected version, bits, dim, kept count and seed, and then yields dim finite
// values; a refusal says why ("compressed_delta: ..."); every finite delta
// encodes to exactly that size and decodes back to dim finite values.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"
#include "tools/base/update_codec.h"

namespace fedtiny::fuzz {
namespace {

constexpr const char* kSpecs[] = {"hadamard:bits=8", "hadamard:bits=4", "hadamard:bits=2",
                                  "hadamard:bits=1", "hadamard:bits=2,k=0.25",
                                  "hadamard:bits=4,k=0.5,range=0.1"};

uint64_t Le(const std::string& b, size_t at, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t{static_cast<unsigned char>(b[at + i])} << (8 * i);
  return v;
}

void CheckDecode(const std::string& bytes, const CompressionSpec& spec, size_t dim, uint64_t seed) {
  std::vector<float> out;
  std::string error;
  const bool ok = DecodeCompressed(bytes, spec, dim, seed, &out, &error);
  if (!ok) {
    FUZZ_CHECK(error.rfind("compressed_delta: ", 0) == 0);
    return;
  }
  FUZZ_CHECK(bytes.size() == CompressedBytes(spec, dim));
  FUZZ_CHECK(bytes[0] == 1 && static_cast<int>(bytes[1]) == spec.bits);
  FUZZ_CHECK(Le(bytes, 4, 4) == dim && Le(bytes, 8, 4) == CompressedKept(spec, dim));
  FUZZ_CHECK(Le(bytes, 12, 8) == seed);
  FUZZ_CHECK(out.size() == dim);
  for (float v : out) FUZZ_CHECK(std::isfinite(v));
}

}  // namespace
}  // namespace fedtiny::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedtiny;
  using namespace fedtiny::fuzz;
  FuzzInput in(data, size);
  CompressionSpec spec;
  std::string error;
  FUZZ_CHECK(ParseCompressionSpec(kSpecs[in.Take<uint8_t>() % 6], &spec, &error));
  const size_t dim = 1 + in.Take<uint16_t>() % 4096;
  const uint64_t seed = in.Take<uint64_t>();
  const uint8_t mode = in.Take<uint8_t>();
  const std::string rest = in.Rest();
  if (mode % 2 == 0) {
    CheckDecode(rest, spec, dim, seed);
    return 0;
  }
  std::vector<float> x(dim, 0.f);
  for (size_t i = 0; i < dim && 4 * i + 4 <= rest.size(); ++i) std::memcpy(&x[i], rest.data() + 4 * i, 4);
  bool finite = true;
  for (float v : x) finite = finite && std::isfinite(v);
  std::string bytes;
  if (finite) {
    // Values whose rotation cannot overflow (|x| sum per block < FLT_MAX) must encode.
    double sum = 0;
    for (float v : x) sum += std::abs(double(v));
    std::string probe;
    if (sum < 1e37) FUZZ_CHECK(EncodeCompressed(x.data(), dim, spec, seed, 0, &probe, &error));
  }
  const bool encoded = EncodeCompressed(x.data(), dim, spec, seed, seed ^ 1, &bytes, &error);
  // Non-finite values are refused, and finite ones near FLT_MAX whose rotation overflows.
  FUZZ_CHECK(!encoded || finite);
  if (!encoded) {
    FUZZ_CHECK(error.rfind("compression: ", 0) == 0);
    return 0;
  }
  FUZZ_CHECK(bytes.size() == CompressedBytes(spec, dim));
  std::vector<float> out;
  // Huge finite inputs may decode to overflow (refused by name); otherwise dim finite values.
  if (DecodeCompressed(bytes, spec, dim, seed, &out, &error)) {
    FUZZ_CHECK(out.size() == dim);
  } else {
    FUZZ_CHECK(error == "compressed_delta: decodes to non-finite values");
  }
  return 0;
}
