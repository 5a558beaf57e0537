#include "tools/base/update_codec.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>

namespace fedtiny {
namespace {

using update_codec_internal::Fwht;
using update_codec_internal::SplitMix64;

constexpr uint8_t kVersion = 1;
constexpr size_t kMaxBlock = 1024;
constexpr uint64_t kSelectionStream = 0xd1b54a32d192ed03ULL;

bool Fail(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return false;
}

size_t BlockOf(size_t dim) {
  size_t b = 1;
  while (b < dim && b < kMaxBlock) b <<= 1;
  return b;
}

bool ParseNumber(std::string_view text, double* out) {
  const std::string s(text);
  if (s.empty() || s.size() > 32) return false;
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(*out);
}

// Parses one "key=value" of the spec into *spec; *seen tracks duplicates.
bool ParseOption(std::string_view opt, CompressionSpec* spec, unsigned* seen, std::string* error) {
  const size_t eq = opt.find('=');
  const std::string_view key = opt.substr(0, eq);
  double v = 0;
  if (eq == std::string_view::npos || !ParseNumber(opt.substr(eq + 1), &v)) {
    return Fail(error, "compression: expected key=number, got \"" + std::string(opt) + "\"");
  }
  const unsigned bit = key == "bits" ? 1u : key == "k" ? 2u : key == "range" ? 4u : 0u;
  if (bit == 0) return Fail(error, "compression: unknown option \"" + std::string(key) + "\" (bits, k, range)");
  if (*seen & bit) return Fail(error, "compression: \"" + std::string(key) + "\" given twice");
  *seen |= bit;
  if (bit == 1) {
    if (v != 1 && v != 2 && v != 4 && v != 8) return Fail(error, "compression: bits must be 1, 2, 4 or 8");
    spec->bits = static_cast<int>(v);
  } else if (bit == 2) {
    if (!(v > 0 && v <= 1)) return Fail(error, "compression: k must be in (0, 1]");
    spec->keep = v;
  } else {
    if (!(v > 0 && v <= 1e30)) return Fail(error, "compression: range must be in (0, 1e30]");
    spec->range = v;
  }
  return true;
}

void ApplySigns(float* v, size_t n, uint64_t seed) {
  SplitMix64 g{seed};
  for (size_t i = 0; i < n; i += 64) {
    const uint64_t w = g.Next();
    for (size_t j = 0; j < 64 && i + j < n; ++j) {
      if ((w >> j) & 1) v[i + j] = -v[i + j];
    }
  }
}

// The kept coordinates, in the order their levels are sent.
std::vector<uint32_t> KeptIndices(size_t padded, size_t kept, uint64_t seed) {
  std::vector<uint32_t> perm(padded);
  std::iota(perm.begin(), perm.end(), 0u);
  if (kept < padded) {
    SplitMix64 g{seed ^ kSelectionStream};
    for (size_t i = 0; i < kept; ++i) {
      const size_t j = i + static_cast<size_t>(g.Next() % (padded - i));
      std::swap(perm[i], perm[j]);
    }
    perm.resize(kept);
  }
  return perm;
}

void PutLe(std::string& out, size_t at, uint64_t v, int bytes) {
  for (int b = 0; b < bytes; ++b) out[at + b] = static_cast<char>(v >> (8 * b));
}

uint64_t GetLe(std::string_view in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int b = 0; b < bytes; ++b) v |= uint64_t{static_cast<unsigned char>(in[at + b])} << (8 * b);
  return v;
}

float FloatOf(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint32_t BitsOf(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

// Rotated-domain values -> the delta: scatter, inverse rotation, truncation.
bool Unrotate(const std::vector<double>& kept_values, size_t dim, uint64_t seed, std::vector<float>* out, std::string* error) {
  const size_t padded = CompressedPaddedDim(dim);
  const size_t block = BlockOf(dim);
  const double scale = static_cast<double>(padded) / static_cast<double>(kept_values.size());
  std::vector<float> z(padded, 0.f);
  const std::vector<uint32_t> idx = KeptIndices(padded, kept_values.size(), seed);
  for (size_t j = 0; j < idx.size(); ++j) z[idx[j]] = static_cast<float>(kept_values[j] * scale);
  for (size_t b = 0; b < padded; b += block) Fwht(z.data() + b, block);
  ApplySigns(z.data(), padded, seed);
  z.resize(dim);
  for (float v : z) {
    if (!std::isfinite(v)) return Fail(error, "compressed_delta: decodes to non-finite values");
  }
  *out = std::move(z);
  return true;
}

struct Header {
  uint32_t dim = 0, kept = 0;
  uint64_t seed = 0;
  float lo = 0, hi = 0;
};

bool CheckHeader(std::string_view bytes, const CompressionSpec& spec, size_t dim, uint64_t seed,
                 Header* h, std::string* error) {
  if (spec.none()) return Fail(error, "compressed_delta: the task's compression is none");
  if (dim == 0 || dim > kMaxCompressedDim) return Fail(error, "compressed_delta: bad expected size");
  if (bytes.size() < kCompressedHeaderBytes) {
    return Fail(error, "compressed_delta: " + std::to_string(bytes.size()) + " bytes is shorter than its header");
  }
  if (static_cast<uint8_t>(bytes[0]) != kVersion) return Fail(error, "compressed_delta: unknown version");
  if (static_cast<uint8_t>(bytes[1]) != spec.bits) {
    return Fail(error, "compressed_delta: " + std::to_string(static_cast<uint8_t>(bytes[1])) +
                           " bits, the task's compression has " + std::to_string(spec.bits));
  }
  if (GetLe(bytes, 2, 2) != 0) return Fail(error, "compressed_delta: reserved bytes must be 0");
  h->dim = static_cast<uint32_t>(GetLe(bytes, 4, 4));
  h->kept = static_cast<uint32_t>(GetLe(bytes, 8, 4));
  h->seed = GetLe(bytes, 12, 8);
  h->lo = FloatOf(static_cast<uint32_t>(GetLe(bytes, 20, 4)));
  h->hi = FloatOf(static_cast<uint32_t>(GetLe(bytes, 24, 4)));
  if (h->dim != dim) {
    return Fail(error, "compressed_delta: " + std::to_string(h->dim) + " values, the head has " +
                           std::to_string(dim));
  }
  if (h->kept != CompressedKept(spec, dim)) {
    return Fail(error, "compressed_delta: " + std::to_string(h->kept) + " kept values, the task's k gives " +
                           std::to_string(CompressedKept(spec, dim)));
  }
  if (h->seed != seed) return Fail(error, "compressed_delta: seed is not this upload's (task, round, token)");
  if (!std::isfinite(h->lo) || !std::isfinite(h->hi) || !(h->lo <= h->hi)) {
    return Fail(error, "compressed_delta: range must be finite with lo <= hi");
  }
  if (spec.range > 0 && (h->hi != static_cast<float>(spec.range) || h->lo != -h->hi)) {
    return Fail(error, "compressed_delta: range is not the task's fixed range");
  }
  if (bytes.size() != CompressedBytes(spec, dim)) {
    return Fail(error, "compressed_delta: " + std::to_string(bytes.size()) + " bytes, expected " +
                           std::to_string(CompressedBytes(spec, dim)));
  }
  return true;
}

double StepOf(float lo, float hi, int bits) {
  return (static_cast<double>(hi) - lo) / static_cast<double>((1u << bits) - 1);
}

}  // namespace

namespace update_codec_internal {

uint64_t SplitMix64::Next() {
  state += 0x9e3779b97f4a7c15ULL;
  uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void Fwht(float* v, size_t n) {
  for (size_t h = 1; h < n; h <<= 1) {
    for (size_t i = 0; i < n; i += 2 * h) {
      for (size_t j = i; j < i + h; ++j) {
        const float a = v[j], b = v[j + h];
        v[j] = a + b;
        v[j + h] = a - b;
      }
    }
  }
  const float norm = static_cast<float>(1.0 / std::sqrt(static_cast<double>(n)));
  for (size_t i = 0; i < n; ++i) v[i] *= norm;
}

}  // namespace update_codec_internal

bool ParseCompressionSpec(std::string_view text, CompressionSpec* spec, std::string* error) {
  *spec = CompressionSpec{};
  if (text.empty() || text == "none") return true;
  constexpr std::string_view kPrefix = "hadamard:";
  if (text.substr(0, kPrefix.size()) != kPrefix) {
    return Fail(error, "compression: expected \"\" or \"hadamard:bits=B[,k=K][,range=R]\"");
  }
  std::string_view rest = text.substr(kPrefix.size());
  unsigned seen = 0;
  for (bool more = !rest.empty(); more;) {
    const size_t comma = rest.find(',');
    if (!ParseOption(rest.substr(0, comma), spec, &seen, error)) return false;
    more = comma != std::string_view::npos;
    if (more) rest = rest.substr(comma + 1);
  }
  if (!(seen & 1)) return Fail(error, "compression: bits is required");
  return true;
}

uint64_t CompressionSeed(std::string_view task, int64_t round, std::string_view device_key) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto eat = [&h](unsigned char c) { h = (h ^ c) * 0x100000001b3ULL; };
  for (char c : task) eat(static_cast<unsigned char>(c));
  eat(0);
  for (int b = 0; b < 8; ++b) eat(static_cast<unsigned char>(static_cast<uint64_t>(round) >> (8 * b)));
  eat(0);
  for (char c : device_key) eat(static_cast<unsigned char>(c));
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

size_t CompressedPaddedDim(size_t dim) {
  if (dim == 0 || dim > kMaxCompressedDim) return 0;
  const size_t block = BlockOf(dim);
  return (dim + block - 1) / block * block;
}

size_t CompressedKept(const CompressionSpec& spec, size_t dim) {
  const size_t padded = CompressedPaddedDim(dim);
  if (spec.keep >= 1) return padded;
  const double m = std::round(spec.keep * static_cast<double>(padded));
  return std::clamp<size_t>(static_cast<size_t>(m), 1, padded);
}

size_t CompressedBytes(const CompressionSpec& spec, size_t dim) {
  return kCompressedHeaderBytes + (CompressedKept(spec, dim) * spec.bits + 7) / 8;
}

bool EncodeCompressed(const float* x, size_t dim, const CompressionSpec& spec, uint64_t seed,
                      uint64_t noise_seed, std::string* out, std::string* error) {
  if (spec.none()) return Fail(error, "compression: none has no compressed form");
  const size_t padded = CompressedPaddedDim(dim);
  if (padded == 0) return Fail(error, "compression: a delta of 1 to 2^26 values");
  const size_t block = BlockOf(dim);
  std::vector<float> y(padded, 0.f);
  for (size_t i = 0; i < dim; ++i) {
    if (!std::isfinite(x[i])) return Fail(error, "compression: the delta has non-finite values");
    y[i] = x[i];
  }
  ApplySigns(y.data(), padded, seed);
  for (size_t b = 0; b < padded; b += block) Fwht(y.data() + b, block);
  for (float v : y) {
    // Values near FLT_MAX can sum past it in the rotation.
    if (!std::isfinite(v)) return Fail(error, "compression: the rotated delta overflows float32");
  }
  const std::vector<uint32_t> idx = KeptIndices(padded, CompressedKept(spec, dim), seed);
  float lo = static_cast<float>(-spec.range), hi = static_cast<float>(spec.range);
  if (spec.range <= 0) {
    lo = hi = y[idx[0]];
    for (uint32_t i : idx) lo = std::min(lo, y[i]), hi = std::max(hi, y[i]);
  }
  const uint64_t top = (uint64_t{1} << spec.bits) - 1;
  const double step = StepOf(lo, hi, spec.bits);
  out->assign(CompressedBytes(spec, dim), '\0');
  SplitMix64 noise{noise_seed};
  for (size_t j = 0; j < idx.size(); ++j) {
    double t = step > 0 ? (static_cast<double>(y[idx[j]]) - lo) / step : 0;
    t = std::clamp(t, 0.0, static_cast<double>(top));
    const double f = std::floor(t);
    const double u = static_cast<double>(noise.Next() >> 11) * 0x1.0p-53;
    const uint64_t level = std::min<uint64_t>(top, static_cast<uint64_t>(f) + (u < t - f ? 1 : 0));
    const size_t bit = j * spec.bits;
    (*out)[kCompressedHeaderBytes + bit / 8] |= static_cast<char>(level << (bit % 8));
  }
  (*out)[0] = static_cast<char>(kVersion);
  (*out)[1] = static_cast<char>(spec.bits);
  PutLe(*out, 4, dim, 4);
  PutLe(*out, 8, idx.size(), 4);
  PutLe(*out, 12, seed, 8);
  PutLe(*out, 20, BitsOf(lo), 4);
  PutLe(*out, 24, BitsOf(hi), 4);
  return true;
}

bool CompressedLevels(std::string_view bytes, const CompressionSpec& spec, size_t dim, uint64_t seed,
                      std::vector<uint64_t>* levels, std::string* error) {
  Header h;
  if (!CheckHeader(bytes, spec, dim, seed, &h, error)) return false;
  const unsigned mask = (1u << spec.bits) - 1;
  levels->resize(h.kept);
  for (size_t j = 0; j < h.kept; ++j) {
    const size_t bit = j * spec.bits;
    (*levels)[j] = (static_cast<unsigned char>(bytes[kCompressedHeaderBytes + bit / 8]) >> (bit % 8)) & mask;
  }
  const size_t used = h.kept * spec.bits;
  if (used % 8 != 0 && (static_cast<unsigned char>(bytes.back()) >> (used % 8)) != 0) {
    return Fail(error, "compressed_delta: padding bits must be 0");
  }
  return true;
}

bool DecodeCompressed(std::string_view bytes, const CompressionSpec& spec, size_t dim, uint64_t seed,
                      std::vector<float>* out, std::string* error) {
  std::vector<uint64_t> levels;
  if (!CompressedLevels(bytes, spec, dim, seed, &levels, error)) return false;
  const float lo = FloatOf(static_cast<uint32_t>(GetLe(bytes, 20, 4)));
  const float hi = FloatOf(static_cast<uint32_t>(GetLe(bytes, 24, 4)));
  const double step = StepOf(lo, hi, spec.bits);
  std::vector<double> values(levels.size());
  for (size_t j = 0; j < levels.size(); ++j) values[j] = lo + step * static_cast<double>(levels[j]);
  return Unrotate(values, dim, seed, out, error);
}

bool DecodeLevelSum(const std::vector<uint64_t>& level_sum, uint64_t count, const CompressionSpec& spec,
                    size_t dim, uint64_t seed, std::vector<float>* out, std::string* error) {
  if (spec.none() || !(spec.range > 0)) return Fail(error, "compression: level sums need a fixed range");
  if (CompressedPaddedDim(dim) == 0 || level_sum.size() != CompressedKept(spec, dim)) {
    return Fail(error, "compression: level sum of the wrong size");
  }
  const float hi = static_cast<float>(spec.range);
  const double step = StepOf(-hi, hi, spec.bits);
  std::vector<double> values(level_sum.size());
  for (size_t j = 0; j < level_sum.size(); ++j) {
    values[j] = -static_cast<double>(hi) * static_cast<double>(count) + step * static_cast<double>(level_sum[j]);
  }
  return Unrotate(values, dim, seed, out, error);
}

}  // namespace fedtiny
