#include "tools/base/byte_reader.h"

namespace fedtiny {

void PutFloats(std::string& out, const std::vector<float>& v) {
  PutValue(out, static_cast<uint64_t>(v.size()));
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

bool ByteReader::GetBytes(size_t n, std::string& out) {
  if (in_.size() < n) return false;
  out.assign(in_.data(), n);
  in_.remove_prefix(n);
  return true;
}

bool ByteReader::GetFloats(std::vector<float>& v) {
  uint64_t n = 0;
  if (!Get(n) || n > in_.size() / sizeof(float)) return false;
  v.resize(n);
  return GetRawFloats(n, v.data());
}

bool ByteReader::GetRawFloats(size_t n, float* out) {
  if (in_.size() / sizeof(float) < n) return false;
  if (n == 0) return true;  // `out` may be null (an empty vector's data()).
  std::memcpy(out, in_.data(), n * sizeof(float));
  in_.remove_prefix(n * sizeof(float));
  return true;
}

}  // namespace fedtiny
