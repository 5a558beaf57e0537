#include "tools/cross/mcu/sealed_bundle.h"

#include <cstring>
#include <string_view>

#include "mbedtls/platform_util.h"
#include "pb_decode.h"

namespace fedtiny::mcu {
namespace {

constexpr uint32_t kFormat = 1;  // Both envelopes' format 1 (envelope.h).
constexpr char kBundleLabel[] = "fedtiny.bundle";
constexpr char kWrappedLabel[] = "fedtiny.wrapped-key";
constexpr char kKekLabel[] = "fedtiny.wrap-kek.v1";

// envelope.cc's canonical encoding: LP(x) is BE32(length) then x; integers
// big-endian. A fixed buffer; overflowing it makes the result !ok().
class Canonical {
 public:
  void Be(uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) Put(static_cast<uint8_t>((v >> (8 * i)) & 0xff));
  }
  void Lp(const void* data, size_t n) {
    Be(n, 4);
    for (size_t i = 0; i < n; ++i) Put(static_cast<const uint8_t*>(data)[i]);
  }
  void Lp(const char* s) { Lp(s, std::strlen(s)); }
  void Binding(const fedtiny_v1_BundleBinding& b) {
    Lp(b.task);
    Lp(b.cluster);
    Be(static_cast<uint64_t>(b.model_version), 8);
    Lp(b.variant);
  }
  bool ok() const { return ok_; }
  std::string_view view() const { return {reinterpret_cast<const char*>(buf_), size_}; }

 private:
  void Put(uint8_t b) {
    if (size_ == sizeof(buf_)) ok_ = false;
    else buf_[size_++] = b;
  }
  uint8_t buf_[512];
  size_t size_ = 0;
  bool ok_ = true;
};

std::string_view View(const void* data, size_t n) { return {static_cast<const char*>(data), n}; }

bool SameBinding(const fedtiny_v1_BundleBinding& got, const Binding& want) {
  return std::strcmp(got.task, want.task) == 0 && std::strcmp(got.cluster, want.cluster) == 0 &&
         got.model_version == want.model_version && std::strcmp(got.variant, want.variant) == 0;
}

// The key-encryption key: HKDF-SHA256(shared, salt "", info), envelope.cc's Kek.
const char* Kek(const uint8_t (&shared)[client::kP256ScalarBytes], const fedtiny_v1_WrappedKey& w,
                std::string_view device_spki, uint8_t (&kek)[client::kAes256KeyBytes]) {
  Canonical info;
  info.Lp(kKekLabel);
  info.Lp(w.ephemeral_public_spki.bytes, w.ephemeral_public_spki.size);
  info.Lp(device_spki.data(), device_spki.size());
  if (!info.ok()) return kMalformed;
  const client::Status s = client::HkdfSha256("", View(shared, sizeof(shared)), info.view(),
                                              client::Span<uint8_t>(kek, sizeof(kek)));
  return s.ok() ? nullptr : kMalformed;
}

const char* CheckWrapped(const fedtiny_v1_WrappedKey& w, const DeviceKey& device, const Binding& expected) {
  if (w.format != kFormat || w.nonce.size != client::kGcmIvBytes ||
      w.ciphertext.size != kModelKeyBytes + client::kGcmTagBytes) {
    return kMalformed;
  }
  if (std::strcmp(w.device_key_id, device.key_id()) != 0) return kOtherDevice;
  if (!SameBinding(w.scope, expected)) return kBinding;
  return nullptr;
}

const char* Unwrap(const fedtiny_v1_WrappedKey& w, const DeviceKey& device, client::RandomBytes rng,
                   uint8_t (&shared)[client::kP256ScalarBytes], uint8_t (&kek)[client::kAes256KeyBytes],
                   uint8_t (&model_key)[kModelKeyBytes]) {
  uint8_t point[client::kP256PointBytes];
  if (!client::P256PointOfSpki(View(w.ephemeral_public_spki.bytes, w.ephemeral_public_spki.size), point)
           .ok()) {
    return kMalformed;
  }
  if (!device.SharedSecret(View(point, sizeof(point)), shared, rng).ok()) return kMalformed;
  if (const char* e = Kek(shared, w, device.spki(), kek)) return e;
  Canonical aad;
  aad.Lp(kWrappedLabel);
  aad.Be(w.format, 4);
  aad.Lp(w.device_key_id);
  aad.Lp(w.ephemeral_public_spki.bytes, w.ephemeral_public_spki.size);
  aad.Binding(w.scope);
  if (!aad.ok()) return kMalformed;
  const client::Status s = client::Aes256GcmDecrypt(
      View(kek, sizeof(kek)), View(w.nonce.bytes, w.nonce.size), aad.view(),
      View(w.ciphertext.bytes, kModelKeyBytes), View(w.ciphertext.bytes + kModelKeyBytes, client::kGcmTagBytes),
      client::Span<uint8_t>(model_key, kModelKeyBytes));
  if (s.code() == client::StatusCode::kUnauthenticated) return kWrongKey;
  return s.ok() ? nullptr : kMalformed;
}

// Takes the ciphertext's place in the buffer stream (pb_istream_from_buffer:
// `state` is the next byte) and skips it.
bool CaptureCiphertext(pb_istream_t* stream, const pb_field_t*, void** arg) {
  SealedBundle* out = static_cast<SealedBundle*>(*arg);
  out->ciphertext = static_cast<const uint8_t*>(stream->state);
  out->ciphertext_size = stream->bytes_left;
  return pb_read(stream, nullptr, stream->bytes_left);
}

}  // namespace

const char* UnwrapModelKey(const uint8_t* wrapped, size_t size, const DeviceKey& device,
                           const Binding& expected, client::RandomBytes rng,
                           uint8_t (&model_key)[kModelKeyBytes]) {
  std::memset(model_key, 0, kModelKeyBytes);
  if (wrapped == nullptr || size == 0) return kPlainBundle;
  fedtiny_v1_WrappedKey w = fedtiny_v1_WrappedKey_init_zero;
  pb_istream_t in = pb_istream_from_buffer(wrapped, size);
  if (!pb_decode(&in, fedtiny_v1_WrappedKey_fields, &w)) return kMalformed;
  if (const char* e = CheckWrapped(w, device, expected)) return e;
  uint8_t shared[client::kP256ScalarBytes];
  uint8_t kek[client::kAes256KeyBytes];
  const char* e = Unwrap(w, device, rng, shared, kek, model_key);
  mbedtls_platform_zeroize(shared, sizeof(shared));
  mbedtls_platform_zeroize(kek, sizeof(kek));
  if (e != nullptr) mbedtls_platform_zeroize(model_key, kModelKeyBytes);
  return e;
}

const char* ParseSealedBundle(const uint8_t* data, size_t size, SealedBundle* out) {
  *out = SealedBundle();
  out->header.ciphertext.funcs.decode = CaptureCiphertext;
  out->header.ciphertext.arg = out;
  pb_istream_t in = pb_istream_from_buffer(data, size);
  if (!pb_decode(&in, fedtiny_v1_EncryptedBundle_fields, &out->header)) return kMalformed;
  if (out->header.format != kFormat || out->header.nonce.size != client::kGcmIvBytes ||
      out->ciphertext == nullptr || out->ciphertext_size < client::kGcmTagBytes) {
    return kMalformed;
  }
  return nullptr;
}

const char* OpenSealedBundle(const SealedBundle& bundle, const uint8_t (&model_key)[kModelKeyBytes],
                             const Binding& expected, client::Span<uint8_t> plain, size_t* plain_size) {
  *plain_size = 0;
  const fedtiny_v1_EncryptedBundle& h = bundle.header;
  if (!SameBinding(h.binding, expected)) return kBinding;
  const size_t n = bundle.ciphertext_size - client::kGcmTagBytes;
  if (n > plain.size()) return kTooLarge;
  Canonical aad;
  aad.Lp(kBundleLabel);
  aad.Be(h.format, 4);
  aad.Binding(h.binding);
  if (!aad.ok()) return kMalformed;
  const client::Status s = client::Aes256GcmDecrypt(
      View(model_key, kModelKeyBytes), View(h.nonce.bytes, h.nonce.size), aad.view(),
      View(bundle.ciphertext, n), View(bundle.ciphertext + n, client::kGcmTagBytes), plain.subspan(0, n));
  if (!s.ok()) {
    mbedtls_platform_zeroize(plain.data(), n);
    return s.code() == client::StatusCode::kUnauthenticated ? kBundleAuth : kMalformed;
  }
  *plain_size = n;
  return nullptr;
}

}  // namespace fedtiny::mcu
