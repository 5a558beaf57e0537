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
// Inputs are trust_vectors.h's (OpenSSL-made), so every run sees the same.
// The counter is the SysTick (perf/systick_counter.h). Prints `m <name>
// <instructions>` lines and `# ` notes; exits 1 if an operation fails.
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <vector>

#include "client/platform/cortex_m/device_crypto.h"
#include "client/platform/cortex_m/mbedtls_crypto.h"
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

}  // namespace

int main() {
  fedtiny::perf::StartSysTick();
  if (!fedtiny::perf::Calibrate()) {
    std::printf(
        "FAIL: SysTick counts do not scale with the work: run with -icount "
        "shift=0\n");
    return 1;
  }
  const bool ok = PublicKeyOps() & BulkOps();
  return ok ? 0 : 1;
}
