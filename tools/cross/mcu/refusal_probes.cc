#include "tools/cross/mcu/refusal_probes.h"

#include <cstdio>
#include <cstring>

#include "mbedtls/platform_util.h"
#include "pb_decode.h"
#include "pb_encode.h"

namespace fedtiny::mcu {
namespace {

int Expect(const char* probe, const char* got, const char* want) {
  const bool ok = got != nullptr && std::strcmp(got, want) == 0;
  std::printf("mcu_device: refusal probe %s: %s%s\n", probe, ok ? "refused as required: " : "NOT refused as required: ",
              got != nullptr ? got : "accepted");
  return ok ? 0 : 1;
}

const char* Unwrap(const ProbeInputs& in, const uint8_t* wrapped, size_t size, const DeviceKey& key,
                   const Binding& binding) {
  uint8_t model_key[kModelKeyBytes];
  const char* e = UnwrapModelKey(wrapped, size, key, binding, in.rng, model_key);
  mbedtls_platform_zeroize(model_key, sizeof(model_key));
  return e;
}

// The wrapped key with one bit of its sealed model key flipped, re-encoded.
size_t FlippedWrapped(const ProbeInputs& in, uint8_t* out, size_t capacity) {
  fedtiny_v1_WrappedKey w = fedtiny_v1_WrappedKey_init_zero;
  pb_istream_t is = pb_istream_from_buffer(in.wrapped, in.wrapped_size);
  if (!pb_decode(&is, fedtiny_v1_WrappedKey_fields, &w) || w.ciphertext.size == 0) return 0;
  w.ciphertext.bytes[0] ^= 0x01;
  pb_ostream_t os = pb_ostream_from_buffer(out, capacity);
  return pb_encode(&os, fedtiny_v1_WrappedKey_fields, &w) ? os.bytes_written : 0;
}

int WrappedKeyProbes(const ProbeInputs& in) {
  int failed = Expect("plain bundle", Unwrap(in, nullptr, 0, *in.key, in.binding), kPlainBundle);
  // Another device's key, kept in RAM (not the board's key sector).
  static uint8_t other_slot[256];
  FlashStore slot(other_slot, sizeof(other_slot));
  DeviceKey other;
  const char* e = DeviceKey::LoadOrCreate(slot, in.rng, &other);
  failed += Expect("other device", e != nullptr ? e : Unwrap(in, in.wrapped, in.wrapped_size, other, in.binding),
                   kOtherDevice);
  mbedtls_platform_zeroize(other_slot, sizeof(other_slot));
  uint8_t flipped[512];
  const size_t n = FlippedWrapped(in, flipped, sizeof(flipped));
  failed += Expect("wrong key", n == 0 ? "re-encoding failed" : Unwrap(in, flipped, n, *in.key, in.binding),
                   kWrongKey);
  Binding swapped = in.binding;
  swapped.model_version += 1;
  failed += Expect("scope swapped", Unwrap(in, in.wrapped, in.wrapped_size, *in.key, swapped), kBinding);
  return failed;
}

const char* Open(const ProbeInputs& in, const SealedBundle& sealed, const uint8_t (&key)[kModelKeyBytes],
                 const Binding& binding) {
  size_t n = 0;
  const char* e = OpenSealedBundle(sealed, key, binding, in.plain, &n);
  mbedtls_platform_zeroize(in.plain.data(), n);
  return e;
}

int BundleProbes(const ProbeInputs& in) {
  SealedBundle sealed;
  if (const char* e = ParseSealedBundle(in.sealed, in.sealed_size, &sealed)) {
    return Expect("bundle parse", e, "");
  }
  uint8_t key[kModelKeyBytes];
  std::memcpy(key, in.model_key, sizeof(key));
  Binding swapped = in.binding;
  swapped.model_version += 1;
  int failed = Expect("binding swapped", Open(in, sealed, key, swapped), kBinding);
  SealedBundle relabelled = sealed;
  relabelled.header.binding.model_version += 1;
  failed += Expect("relabelled", Open(in, relabelled, key, swapped), kBundleAuth);
  key[kModelKeyBytes - 1] ^= 0x80;
  failed += Expect("wrong model key", Open(in, sealed, key, in.binding), kBundleAuth);
  mbedtls_platform_zeroize(key, sizeof(key));
  return failed;
}

}  // namespace

int RunRefusalProbes(const ProbeInputs& in) { return WrappedKeyProbes(in) + BundleProbes(in); }

}  // namespace fedtiny::mcu
