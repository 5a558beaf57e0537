// ECDSA P-256 keys and SHA-256 signatures, through OpenSSL 3's EVP interface
// only (no deprecated low-level EC_KEY/ECDSA calls). Used to sign and verify
// model-trust metadata (client/trust, docs/security.md).
//
// Formats: public keys as DER SubjectPublicKeyInfo or PEM "PUBLIC KEY";
// private keys as unencrypted PKCS#8 (DER, or PEM "PRIVATE KEY"), SEC1
// ("EC PRIVATE KEY") also accepted on load. Signatures are DER ECDSA-Sig-Value.
// Nothing here logs, and no error message contains key material.
#ifndef FEDTINY_TOOLS_BASE_CRYPTO_EC_KEY_H_
#define FEDTINY_TOOLS_BASE_CRYPTO_EC_KEY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/base/crypto/openssl_util.h"

namespace fedtiny::crypto {

// The one signature scheme of the project's metadata (PublicKey.scheme).
inline constexpr char kEcdsaP256Sha256[] = "ecdsa-p256-sha256";

// KeyIdOfSpki returns the key id of a DER SubjectPublicKeyInfo: the lower-case
// hex of its SHA-256 (64 characters). The bytes are not parsed.
std::string KeyIdOfSpki(absl::string_view spki_der);

// EcPublicKey is a P-256 verification key. Immutable after construction, so
// one key may verify from several threads at once. Owns its OpenSSL key;
// move-only.
class EcPublicKey {
 public:
  // FromSpkiDer parses a DER SubjectPublicKeyInfo. kInvalidArgument if it is
  // not exactly one P-256 public key (trailing bytes, another curve or
  // algorithm, a point off the curve).
  static absl::StatusOr<EcPublicKey> FromSpkiDer(absl::string_view der);
  // FromPem parses a PEM "PUBLIC KEY". Same errors as FromSpkiDer.
  static absl::StatusOr<EcPublicKey> FromPem(absl::string_view pem);

  EcPublicKey(EcPublicKey&&) = default;
  EcPublicKey& operator=(EcPublicKey&&) = default;

  // spki_der returns the key as a DER SubjectPublicKeyInfo.
  [[nodiscard]] const std::string& spki_der() const { return spki_der_; }
  // key_id returns KeyIdOfSpki(spki_der()).
  [[nodiscard]] const std::string& key_id() const { return key_id_; }
  // ToPem returns the key as PEM "PUBLIC KEY". kInternal if OpenSSL fails.
  absl::StatusOr<std::string> ToPem() const;

  // Verify checks a DER ECDSA signature of SHA-256(`data`). OK if it
  // verifies; kUnauthenticated if it does not or is not a well-formed
  // signature; kInternal if OpenSSL fails otherwise.
  absl::Status Verify(absl::string_view data,
                      absl::string_view der_signature) const;

  // evp_pkey borrows the OpenSSL key, for the other wrappers of this package
  // (ECDH in ecdh.h); valid while this object lives unmoved.
  [[nodiscard]] EVP_PKEY* evp_pkey() const { return key_.get(); }

 private:
  EcPublicKey(EvpPkeyPtr key, std::string spki_der);
  static absl::StatusOr<EcPublicKey> FromKey(EvpPkeyPtr key);
  friend class EcPrivateKey;

  EvpPkeyPtr key_;
  std::string spki_der_;
  std::string key_id_;
};

// EcPrivateKey is a P-256 signing key with its public half. Immutable after
// construction: one key may sign from several threads at once. Owns its
// OpenSSL key (freed, and so zeroed by OpenSSL, on destruction); move-only.
class EcPrivateKey {
 public:
  // Generate makes a new key from OpenSSL's CSPRNG. kInternal on failure.
  static absl::StatusOr<EcPrivateKey> Generate();
  // FromPem parses PEM "PRIVATE KEY" (PKCS#8) or "EC PRIVATE KEY" (SEC1);
  // FromDer the same in DER. kInvalidArgument if not one P-256 private key.
  static absl::StatusOr<EcPrivateKey> FromPem(absl::string_view pem);
  static absl::StatusOr<EcPrivateKey> FromDer(absl::string_view der);

  EcPrivateKey(EcPrivateKey&&) = default;
  EcPrivateKey& operator=(EcPrivateKey&&) = default;

  // ToPem / ToDer return the key as unencrypted PKCS#8: a secret, which the
  // caller stores with restricted permissions (e.g. WriteFileAtomically with
  // mode 0600). kInternal if OpenSSL fails.
  absl::StatusOr<std::string> ToPem() const;
  absl::StatusOr<std::string> ToDer() const;

  // public_key returns the verification half.
  [[nodiscard]] const EcPublicKey& public_key() const { return public_key_; }

  // Sign returns a DER ECDSA signature of SHA-256(`data`) (randomized: two
  // signatures of the same data differ). kInternal if OpenSSL fails.
  absl::StatusOr<std::string> Sign(absl::string_view data) const;

  // evp_pkey borrows the OpenSSL key, for the other wrappers of this package
  // (ECDH in ecdh.h); valid while this object lives unmoved.
  [[nodiscard]] EVP_PKEY* evp_pkey() const { return key_.get(); }

 private:
  EcPrivateKey(EvpPkeyPtr key, EcPublicKey public_key);
  static absl::StatusOr<EcPrivateKey> FromKey(EvpPkeyPtr key);

  EvpPkeyPtr key_;
  EcPublicKey public_key_;
};

}  // namespace fedtiny::crypto

#endif  // FEDTINY_TOOLS_BASE_CRYPTO_EC_KEY_H_
