// client/platform/cortex_m's Mbed TLS crypto against OpenSSL-made inputs
// (trust_vectors.h, tools/cross/make_trust_vectors.py) and published vectors,
// on the host, aarch64 and bare-metal Cortex-M (cross_targets_test.sh):
//   MbedTlsCrypto   SHA-256("abc") (FIPS 180-2), ConstantTimeEquals
//   ECDSA P-256     OpenSSL's signature verifies; a flipped bit in the message
//                   or the signature, or another key, is refused; the same
//                   through client::SignatureVerifier (MbedTlsSignatureVerifier)
//   AES-256-GCM     OpenSSL's ciphertext decrypts; a flipped tag, ciphertext or
//                   AAD bit is refused and the output zeroed
//   HKDF-SHA256     RFC 5869 test case 1
//   ECDH P-256      the secret equals `openssl pkeyutl -derive`'s; a point off
//                   the curve is refused
//   device key      (p256_keys.h) a CTR_DRBG over a test entropy hook makes two
//                   different P-256 keys whose SPKIs parse back to points with
//                   the same ECDH secret both ways; a SubjectPublicKeyInfo of
//                   OpenSSL's point B gives B back; a cut one is refused; a
//                   failing entropy hook fails the seeding
// Prints `# ` notes and one `FAIL:` line per failed check; exits 1 if any.
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "client/platform/cortex_m/device_crypto.h"
#include "client/platform/cortex_m/mbedtls_crypto.h"
#include "client/platform/cortex_m/mbedtls_signature_verifier.h"
#include "client/platform/cortex_m/p256_keys.h"
#include "tools/cross/trust_vectors.h"

namespace {

namespace tv = fedtiny::trust_vectors;
using fedtiny::client::Status;
using fedtiny::client::StatusCode;

int g_failures = 0;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::printf("FAIL: %s\n", what);
    ++g_failures;
  }
}

template <size_t N>
std::string_view View(const unsigned char (&a)[N]) {
  return std::string_view(reinterpret_cast<const char*>(a), N);
}

std::string Copy(std::string_view s) { return std::string(s); }

int Nibble(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(Nibble(hex[i]) * 16 + Nibble(hex[i + 1])));
  }
  return out;
}

std::string_view View(const uint8_t* p, size_t n) {
  return std::string_view(reinterpret_cast<const char*>(p), n);
}

void TestMbedTlsCrypto() {
  const fedtiny::client::MbedTlsCrypto crypto;
  uint8_t digest[32];
  Check(crypto.Sha256("abc", digest), "Sha256 returned false");
  Check(View(digest, 32) == FromHex("ba7816bf8f01cfea414140de5dae2223b00361a396"
                                    "177a9cb410ff61f20015ad"),
        "SHA-256(\"abc\") differs from FIPS 180-2's");
  Check(crypto.ConstantTimeEquals("fedtiny", "fedtiny"),
        "equal strings compare unequal");
  Check(!crypto.ConstantTimeEquals("fedtiny", "fedtinx"),
        "different strings compare equal");
  Check(!crypto.ConstantTimeEquals("fedtiny", "fedtin"),
        "different sizes compare equal");
  std::printf("# MbedTlsCrypto: SHA-256 and ConstantTimeEquals\n");
}

void TestEcdsa() {
  using fedtiny::client::EcdsaP256Verify;
  const std::string_view key = View(tv::kEcdsaSpki),
                         msg = View(tv::kEcdsaMessage),
                         sig = View(tv::kEcdsaSignature);
  const Status ok = EcdsaP256Verify(key, msg, sig);
  Check(ok.ok(), "OpenSSL's ECDSA P-256 signature does not verify");
  if (!ok.ok()) std::printf("# %s\n", ok.message().c_str());
  std::string m = Copy(msg);
  m[100] ^= 0x01;
  Check(EcdsaP256Verify(key, m, sig).code() == StatusCode::kUnauthenticated,
        "a message with a flipped bit verifies");
  std::string s = Copy(sig);
  s[s.size() - 1] ^= 0x01;
  Check(EcdsaP256Verify(key, msg, s).code() == StatusCode::kUnauthenticated,
        "a signature with a flipped bit verifies");
  s = Copy(sig) + '\0';
  Check(EcdsaP256Verify(key, msg, s).code() == StatusCode::kUnauthenticated,
        "a signature with a trailing byte verifies");
  Check(EcdsaP256Verify(View(tv::kEcdsaOtherSpki), msg, sig).code() ==
            StatusCode::kUnauthenticated,
        "another key verifies the signature");
  Check(EcdsaP256Verify(key.substr(0, 40), msg, sig).code() ==
            StatusCode::kInvalidArgument,
        "a truncated key is not refused as an argument");
  std::printf(
      "# ECDSA P-256: OpenSSL's signature (%u bytes DER) verifies; flipped "
      "bits,"
      " another key refused\n",
      static_cast<unsigned>(sig.size()));
}

void TestSignatureVerifier() {
  const fedtiny::client::MbedTlsSignatureVerifier mbedtls;
  const fedtiny::client::SignatureVerifier& verifier = mbedtls;
  const std::string_view key = View(tv::kEcdsaSpki), msg = View(tv::kEcdsaMessage);
  Check(verifier.VerifyEcdsaP256Sha256(key, msg, View(tv::kEcdsaSignature)).ok(),
        "SignatureVerifier: OpenSSL's signature does not verify");
  std::string m = Copy(msg);
  m[0] ^= 0x01;
  Check(verifier.VerifyEcdsaP256Sha256(key, m, View(tv::kEcdsaSignature)).code() ==
            StatusCode::kUnauthenticated,
        "SignatureVerifier: a flipped message bit verifies");
  Check(verifier.VerifyEcdsaP256Sha256(key.substr(0, 40), msg, View(tv::kEcdsaSignature)).code() ==
            StatusCode::kInvalidArgument,
        "SignatureVerifier: a cut key is not kInvalidArgument");
}

void TestGcm() {
  using fedtiny::client::Aes256GcmDecrypt;
  const std::string_view key = View(tv::kGcmKey), iv = View(tv::kGcmIv),
                         aad = View(tv::kGcmAad), ct = View(tv::kGcmCiphertext),
                         tag = View(tv::kGcmTag);
  std::vector<uint8_t> out(ct.size());
  Check(Aes256GcmDecrypt(key, iv, aad, ct, tag, out).ok(),
        "OpenSSL's AES-256-GCM is refused");
  Check(View(out.data(), out.size()) == View(tv::kGcmPlaintext),
        "the plaintext differs");
  std::string t = Copy(tag);
  t[0] ^= 0x80;
  Check(Aes256GcmDecrypt(key, iv, aad, ct, t, out).code() ==
            StatusCode::kUnauthenticated,
        "a flipped tag bit is accepted");
  Check(out == std::vector<uint8_t>(ct.size(), 0),
        "a refused plaintext is not zeroed");
  std::string c = Copy(ct);
  c[500] ^= 0x04;
  Check(Aes256GcmDecrypt(key, iv, aad, c, tag, out).code() ==
            StatusCode::kUnauthenticated,
        "a flipped ciphertext bit is accepted");
  std::string a = Copy(aad);
  a[0] ^= 0x01;
  Check(Aes256GcmDecrypt(key, iv, a, ct, tag, out).code() ==
            StatusCode::kUnauthenticated,
        "a flipped AAD bit is accepted");
  Check(Aes256GcmDecrypt(key.substr(0, 16), iv, aad, ct, tag, out).code() ==
            StatusCode::kInvalidArgument,
        "a 16-byte key is accepted");
  std::printf(
      "# AES-256-GCM: OpenSSL's %u-byte ciphertext decrypts; flipped tag, "
      "ciphertext,"
      " AAD refused\n",
      static_cast<unsigned>(ct.size()));
}

void TestHkdf() {
  // RFC 5869, appendix A.1.
  const std::string ikm(22, '\x0b'),
      salt = FromHex("000102030405060708090a0b0c"),
      info = FromHex("f0f1f2f3f4f5f6f7f8f9");
  uint8_t okm[42];
  Check(fedtiny::client::HkdfSha256(salt, ikm, info, okm).ok(),
        "HKDF-SHA256 failed");
  Check(View(okm, sizeof(okm)) ==
            FromHex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5d"
                    "b02d56ecc4c5bf34007208d5b887185865"),
        "HKDF-SHA256 differs from RFC 5869 test case 1");
  std::printf("# HKDF-SHA256: RFC 5869 test case 1\n");
}

void TestEcdh() {
  uint8_t shared[32];
  const Status s = fedtiny::client::EcdhP256SharedSecret(
      tv::kEcdhPrivateA, View(tv::kEcdhPublicB), shared);
  Check(s.ok(), "ECDH P-256 failed");
  if (!s.ok()) std::printf("# %s\n", s.message().c_str());
  Check(View(shared, 32) == View(tv::kEcdhShared),
        "the ECDH secret differs from OpenSSL's");
  std::string off = Copy(View(tv::kEcdhPublicB));
  off[64] ^= 0x01;
  Check(fedtiny::client::EcdhP256SharedSecret(tv::kEcdhPrivateA, off, shared)
                .code() == StatusCode::kInvalidArgument,
        "a point off the curve is accepted");
  std::printf("# ECDH P-256: the secret equals openssl pkeyutl -derive's\n");
}

}  // namespace

// Test entropy: a counter's bytes (deterministic, as the checks must repeat).
int TestEntropy(void* context, unsigned char* out, size_t n) {
  unsigned* counter = static_cast<unsigned*>(context);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>((*counter)++ * 31 + 7);
  return 0;
}
int NoEntropy(void*, unsigned char*, size_t) { return -1; }

void TestDeviceKey() {
  using fedtiny::client::kP256PointBytes;
  using fedtiny::client::kP256SpkiBytes;
  unsigned counter = 0;
  fedtiny::client::CtrDrbg drbg;
  Check(drbg.Seed({TestEntropy, &counter}, "trust_selftest").ok(), "CTR_DRBG seeding failed");
  uint8_t a[32], b[32], spki_a[kP256SpkiBytes], spki_b[kP256SpkiBytes];
  Check(fedtiny::client::GenerateP256Key(drbg.rng(), a, spki_a).ok() &&
            fedtiny::client::GenerateP256Key(drbg.rng(), b, spki_b).ok(),
        "P-256 key generation failed");
  Check(View(a, 32) != View(b, 32) && View(spki_a, sizeof(spki_a)) != View(spki_b, sizeof(spki_b)),
        "two generated keys are equal");
  uint8_t point_a[kP256PointBytes], point_b[kP256PointBytes], ab[32], ba[32];
  Check(fedtiny::client::P256PointOfSpki(View(spki_a, sizeof(spki_a)), point_a).ok() &&
            fedtiny::client::P256PointOfSpki(View(spki_b, sizeof(spki_b)), point_b).ok(),
        "a generated SubjectPublicKeyInfo does not parse");
  Check(fedtiny::client::EcdhP256SharedSecret(a, View(point_b, sizeof(point_b)), ab, drbg.rng()).ok() &&
            fedtiny::client::EcdhP256SharedSecret(b, View(point_a, sizeof(point_a)), ba, drbg.rng()).ok() &&
            View(ab, 32) == View(ba, 32),
        "ECDH between two generated keys differs by side");
  // DER SubjectPublicKeyInfo header of an uncompressed P-256 point (RFC 5480).
  const std::string spki =
      FromHex("3059301306072a8648ce3d020106082a8648ce3d030107034200") + Copy(View(tv::kEcdhPublicB));
  uint8_t point[kP256PointBytes];
  Check(fedtiny::client::P256PointOfSpki(spki, point).ok() &&
            View(point, sizeof(point)) == View(tv::kEcdhPublicB),
        "the point of OpenSSL's key B's SubjectPublicKeyInfo is not B");
  Check(fedtiny::client::P256PointOfSpki(std::string_view(spki).substr(0, 60), point).code() ==
            StatusCode::kInvalidArgument,
        "a cut SubjectPublicKeyInfo is accepted");
  fedtiny::client::CtrDrbg broken;
  Check(!broken.Seed({NoEntropy, nullptr}, "trust_selftest").ok(), "a failing entropy hook seeds the DRBG");
  std::printf("# device key: CTR_DRBG + P-256 generation, SPKI round trip, ECDH both ways\n");
}

int main() {
  TestMbedTlsCrypto();
  TestEcdsa();
  TestSignatureVerifier();
  TestGcm();
  TestHkdf();
  TestEcdh();
  TestDeviceKey();
  std::printf(g_failures == 0 ? "trust_selftest: PASS\n"
                              : "trust_selftest: %d FAILED\n",
              g_failures);
  return g_failures == 0 ? 0 : 1;
}
