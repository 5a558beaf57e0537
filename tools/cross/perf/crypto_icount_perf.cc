// Instruction counts of the device's cryptography (client/platform/cortex_m,
// Mbed TLS 2.28 with its mbedtls_config.h) for bare-metal Cortex-M under QEMU
// with `-icount shift=0` (tools/cross/perf/crypto_icount.sh):
//   ECDSA P-256 verify   EcdsaP256Verify of OpenSSL's signature over 600 bytes
//                        (key parse + SHA-256 + verify: Uptane's partial
//                        verification of the director's targets metadata)
//   ECDH P-256           EcdhP256SharedSecret (no RNG: Mbed TLS's internal
//                        DRBG blinds)
//   HKDF-SHA256          32 bytes from a 32-byte secret
//   SHA-256 64 KiB       MbedTlsCrypto::Sha256 (a model bundle's hash)
//   AES-256-GCM 64 KiB   Aes256GcmDecrypt with 23 bytes of AAD, of a ciphertext
//                        Mbed TLS encrypted first
//   P-256 key generation GenerateP256Key over a seeded CtrDrbg (p256_keys.h):
//                        the MCU firmware's device key, made on its first boot
//   model key unwrap     what the firmware's UnwrapModelKey
//                        (tools/cross/mcu/sealed_bundle.h) computes, without its
//                        nanopb decode: the ephemeral key's point from its SPKI,
//                        ECDH blinded by the DRBG, HKDF-SHA256 to a 32-byte key
//                        (info here: the SPKI alone; the firmware's adds labels
//                        and its own SPKI, ~100 bytes more),
//                        AES-256-GCM open of the 32-byte model key
// Inputs are trust_vectors.h's (OpenSSL-made), so every run sees the same.
// The counter is the SysTick (perf/systick_counter.h). Prints `m <name>
// <instructions>` lines and `# ` notes; exits 1 if an operation fails.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include "client/platform/cortex_m/device_crypto.h"
#include "client/platform/cortex_m/mbedtls_crypto.h"
#include "client/platform/cortex_m/p256_keys.h"
#include "mbedtls/gcm.h"
#include "tools/cross/perf/systick_counter.h"
#include "tools/cross/trust_vectors.h"

namespace {

namespace tv = fedtiny::trust_vectors;
using fedtiny::perf::g_per_tick;
using fedtiny::perf::Report;
using fedtiny::perf::Ticks;

constexpr size_t kBulkBytes = 64 * 1024;

template <size_t N>
std::string_view View(const unsigned char (&a)[N]) {
  return std::string_view(reinterpret_cast<const char*>(a), N);
}

std::string_view View(const std::vector<uint8_t>& v) {
  return std::string_view(reinterpret_cast<const char*>(v.data()), v.size());
}

// Ticks of `op`, which must return an OK status; 0 (and a FAIL line) if not.
template <typename F>
uint32_t Measure(const char* name, F&& op) {
  bool ok = false;
  const uint32_t ticks = Ticks([&] { ok = op(); });
  if (!ok) {
    std::printf("FAIL: %s\n", name);
    return 0;
  }
  Report(name, ticks * g_per_tick);
  return ticks;
}

bool PublicKeyOps() {
  bool ok = Measure("ecdsa_p256_verify", [] {
              return fedtiny::client::EcdsaP256Verify(View(tv::kEcdsaSpki),
                                                      View(tv::kEcdsaMessage),
                                                      View(tv::kEcdsaSignature))
                  .ok();
            }) != 0;
  uint8_t shared[32];
  ok &= Measure("ecdh_p256", [&] {
          return fedtiny::client::EcdhP256SharedSecret(
                     tv::kEcdhPrivateA, View(tv::kEcdhPublicB), shared)
              .ok();
        }) != 0;
  uint8_t okm[32];
  ok &= Measure("hkdf_sha256_32", [&] {
          return fedtiny::client::HkdfSha256("salt", View(tv::kEcdhShared),
                                             "fedtiny", okm)
              .ok();
        }) != 0;
  return ok;
}

bool BulkOps() {
  std::vector<uint8_t> plain(kBulkBytes), sealed(kBulkBytes), out(kBulkBytes);
  for (size_t i = 0; i < plain.size(); ++i)
    plain[i] = static_cast<uint8_t>(i * 13 + 7);
  const fedtiny::client::MbedTlsCrypto crypto;
  uint8_t digest[32];
  bool ok = Measure("sha256_64k",
                    [&] { return crypto.Sha256(View(plain), digest); }) != 0;

  unsigned char tag[16];
  mbedtls_gcm_context gcm;
  mbedtls_gcm_init(&gcm);
  const bool sealed_ok =
      mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, tv::kGcmKey, 256) == 0 &&
      mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, plain.size(),
                                tv::kGcmIv, sizeof(tv::kGcmIv), tv::kGcmAad,
                                sizeof(tv::kGcmAad), plain.data(),
                                sealed.data(), sizeof(tag), tag) == 0;
  mbedtls_gcm_free(&gcm);
  if (!sealed_ok) {
    std::printf("FAIL: AES-256-GCM encryption\n");
    return false;
  }
  ok &= Measure("aes256_gcm_decrypt_64k", [&] {
          return fedtiny::client::Aes256GcmDecrypt(
                     View(tv::kGcmKey), View(tv::kGcmIv), View(tv::kGcmAad),
                     View(sealed),
                     std::string_view(reinterpret_cast<char*>(tag), 16), out)
              .ok();
        }) != 0;
  return ok && out == plain;
}

// A fixed entropy hook: the counts must repeat from run to run.
int FixedEntropy(void*, unsigned char* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(i * 29 + 3);
  return 0;
}

bool DeviceKeyOps() {
  fedtiny::client::CtrDrbg drbg;
  if (!drbg.Seed({FixedEntropy, nullptr}, "crypto_icount").ok()) {
    std::printf("FAIL: CTR_DRBG seeding\n");
    return false;
  }
  uint8_t key[32], spki[fedtiny::client::kP256SpkiBytes];
  bool ok = Measure("p256_keygen", [&] {
              return fedtiny::client::GenerateP256Key(drbg.rng(), key, spki).ok();
            }) != 0;
  // A model key sealed (outside the measurement) under the key-encryption key
  // that the unwrap derives, as the coordinator's WrapModelKey does.
  const std::string_view ephemeral = View(tv::kEcdsaSpki);  // Any P-256 SPKI.
  uint8_t point[fedtiny::client::kP256PointBytes], shared[32], kek[32];
  const unsigned char model_key[32] = {1, 2, 3, 4, 5, 6, 7, 8};
  unsigned char sealed[32], tag[16], opened[32];
  mbedtls_gcm_context gcm;
  mbedtls_gcm_init(&gcm);
  const bool wrapped =
      fedtiny::client::P256PointOfSpki(ephemeral, point).ok() &&
      fedtiny::client::EcdhP256SharedSecret(key, std::string_view(reinterpret_cast<char*>(point), sizeof(point)),
                                            shared).ok() &&
      fedtiny::client::HkdfSha256("", std::string_view(reinterpret_cast<char*>(shared), 32), ephemeral, kek).ok() &&
      mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, kek, 256) == 0 &&
      mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, sizeof(model_key), tv::kGcmIv, sizeof(tv::kGcmIv),
                                tv::kGcmAad, sizeof(tv::kGcmAad), model_key, sealed, sizeof(tag), tag) == 0;
  mbedtls_gcm_free(&gcm);
  if (!wrapped) {
    std::printf("FAIL: sealing a model key\n");
    return false;
  }
  ok &= Measure("unwrap_model_key", [&] {
          using namespace fedtiny::client;
          return P256PointOfSpki(ephemeral, point).ok() &&
                 EcdhP256SharedSecret(key, std::string_view(reinterpret_cast<char*>(point), sizeof(point)),
                                      shared, drbg.rng()).ok() &&
                 HkdfSha256("", std::string_view(reinterpret_cast<char*>(shared), 32), ephemeral, kek).ok() &&
                 Aes256GcmDecrypt(std::string_view(reinterpret_cast<char*>(kek), 32), View(tv::kGcmIv),
                                  View(tv::kGcmAad), std::string_view(reinterpret_cast<char*>(sealed), 32),
                                  std::string_view(reinterpret_cast<char*>(tag), 16), opened).ok();
        }) != 0;
  return ok && std::memcmp(opened, model_key, sizeof(model_key)) == 0;
}

}  // namespace

int main() {
  fedtiny::perf::StartSysTick();
  if (!fedtiny::perf::Calibrate()) {
    std::printf(
        "FAIL: SysTick counts do not scale with the work: run with -icount "
        "shift=0\n");
    return 1;
  }
  const bool ok = PublicKeyOps() & BulkOps() & DeviceKeyOps();
  return ok ? 0 : 1;
}
