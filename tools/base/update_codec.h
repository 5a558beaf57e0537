// Compressed update deltas (UploadRequest.compressed_delta, docs/protocol.md,
// "Compressed updates"): a randomized Hadamard rotation, b-bit stochastic
// quantization and optional random-k, all unbiased (E[decode(encode(x))] = x).
// The one definition shared by the device SDK (client/transport, sim) and the
// coordinator (coordinator/task_runner.cc), which cannot depend on each other;
// standard library only, so the portable device core can use it as it is.
//
// The pipeline for a delta x of d values:
//  1. pad x with zeros to P = ceil(d / B) * B, B = min(1024, next power of 2 >= d);
//  2. flip the sign of each coordinate by a bit of the shared seed's sign stream;
//  3. apply the orthonormal Walsh-Hadamard transform (H / sqrt(B)) to each block
//     of B: the rotated vector y has the same norm and spread-out coordinates;
//  4. random-k (k < 1): keep m = max(1, round(k * P)) coordinates chosen by the
//     shared seed's selection stream (partial Fisher-Yates); the decoder scales
//     them by P / m and fills the others with 0;
//  5. quantize each kept coordinate to L = 2^bits levels over [lo, hi]
//     (the kept values' min and max, or [-range, range] in fixed-range mode),
//     rounding up with probability equal to the fractional part (stochastic
//     rounding, unbiased), with the device's own noise generator.
// The decoder inverts 5 -> 1. Steps 2-4 use only the seed, so both sides agree.
//
// Summable for secure aggregation: with a fixed range (spec "range=R") and the
// per-round seed (CompressionSeed with an empty device key), every device of a
// round uses the same rotation, kept set, lo = -R and step; the sum of n
// devices' level vectors (b + ceil(log2 n) bits each) decodes to the sum of
// their updates: DecodeLevelSum. Values outside [-R, R] are clipped (biased).
//
// The generator is SplitMix64 (Steele, Lea, Flood 2014): state += 0x9e3779b97f4a7c15;
// z = state; z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9; z = (z ^ z >> 27) *
// 0x94d049bb133111eb; output z ^ z >> 31. Sign stream: SplitMix64 from the
// seed; output i's bit j (least significant first) set flips coordinate 64 i + j.
// Selection stream: SplitMix64 from seed ^ 0xd1b54a32d192ed03; swap step i takes
// j = i + output % (P - i). Not cryptographic: the seed is not a secret.
//
// Free functions without state: pure, thread-safe. Errors are a false return
// and a message in *error (no exceptions, no abort).
#ifndef FEDTINY_TOOLS_BASE_UPDATE_CODEC_H_
#define FEDTINY_TOOLS_BASE_UPDATE_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fedtiny {

// The parsed TaskConfig.compression. A value type; bits == 0 is "none".
struct CompressionSpec {
  int bits = 0;       // 0 (float32, no compression), 1, 2, 4 or 8.
  double keep = 1;    // k: the fraction of rotated coordinates sent, (0, 1].
  double range = 0;   // > 0: fixed range [-range, range] (summable); 0: per update.
  [[nodiscard]] bool none() const { return bits == 0; }
};

// The largest delta the codec takes (parameters); larger is refused.
inline constexpr size_t kMaxCompressedDim = size_t{1} << 26;
// The compressed header's size in bytes (docs/protocol.md).
inline constexpr size_t kCompressedHeaderBytes = 28;

// ParseCompressionSpec reads "" (none) or "hadamard:bits=B[,k=K][,range=R]"
// with B in {1, 2, 4, 8}, K in (0, 1], R in (0, 1e30]. False with a message
// naming the bad part otherwise.
bool ParseCompressionSpec(std::string_view text, CompressionSpec* spec, std::string* error);

// CompressionSeed derives the shared seed from the task name, the round and a
// device key (the upload token; empty in fixed-range mode, so a round's
// devices share it): FNV-1a 64 over task, 0x00, round (8 bytes LE), 0x00,
// device_key, then SplitMix64's output function.
uint64_t CompressionSeed(std::string_view task, int64_t round, std::string_view device_key);

// CompressedPaddedDim is P for d values (0 when d is 0 or above kMaxCompressedDim).
size_t CompressedPaddedDim(size_t dim);
// CompressedKept is m, the number of coordinates sent.
size_t CompressedKept(const CompressionSpec& spec, size_t dim);
// CompressedBytes is the exact encoded size (header + packed levels).
size_t CompressedBytes(const CompressionSpec& spec, size_t dim);

// EncodeCompressed writes x (dim finite values) compressed with `spec` (not
// none) into *out. `seed` is the shared seed (CompressionSeed); `noise_seed`
// seeds the device's stochastic rounding and need not be shared. False for
// dim 0 or above kMaxCompressedDim, a non-finite value, or a none spec.
bool EncodeCompressed(const float* x, size_t dim, const CompressionSpec& spec, uint64_t seed,
                      uint64_t noise_seed, std::string* out, std::string* error);

// DecodeCompressed is EncodeCompressed's inverse (in expectation): *out gets
// dim values. False, with a message, for bytes that do not match the expected
// spec, dim and seed exactly (version, bits, dims, kept count, seed, size,
// non-finite or inverted range, fixed range other than the spec's, nonzero
// padding bits). Never reads past `bytes`.
bool DecodeCompressed(std::string_view bytes, const CompressionSpec& spec, size_t dim, uint64_t seed,
                      std::vector<float>* out, std::string* error);

// DecodeLevelSum decodes the sum of `count` fixed-range updates from the sum
// of their levels (level_sum: CompressedKept values, in the kept order) into
// *out (dim values): sum_i x_i in expectation. spec.range must be > 0.
bool DecodeLevelSum(const std::vector<uint64_t>& level_sum, uint64_t count,
                    const CompressionSpec& spec, size_t dim, uint64_t seed,
                    std::vector<float>* out, std::string* error);

// CompressedLevels unpacks an encoded update's levels (for DecodeLevelSum's
// callers and tests), after the same checks as DecodeCompressed.
bool CompressedLevels(std::string_view bytes, const CompressionSpec& spec, size_t dim, uint64_t seed,
                      std::vector<uint64_t>* levels, std::string* error);

namespace update_codec_internal {
// The orthonormal Walsh-Hadamard transform of v[0, n), n a power of two, in
// place (its own inverse).
void Fwht(float* v, size_t n);
// SplitMix64 as described above; a value type.
struct SplitMix64 {
  uint64_t state;
  uint64_t Next();
};
}  // namespace update_codec_internal

}  // namespace fedtiny

#endif  // FEDTINY_TOOLS_BASE_UPDATE_CODEC_H_
