#include "tools/base/crypto/ec_key.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/encoder.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <utility>

#include "absl/strings/escaping.h"
#include "tools/base/sha256.h"

namespace fedtiny::crypto {
namespace {

constexpr char kCurve[] = "prime256v1";  // OpenSSL's name for P-256

// Whether `key` is an EC key on P-256.
bool IsP256(EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_is_a(key, "EC") != 1) return false;
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof(group), &len) != 1) {
    return false;
  }
  return absl::string_view(group, len) == kCurve;
}

absl::StatusOr<std::string> SpkiDer(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key, &der);
  if (n <= 0) return OpenSslError(absl::StatusCode::kInternal, "ec: i2d_PUBKEY");
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

}  // namespace

std::string KeyIdOfSpki(absl::string_view spki_der) {
  absl::StatusOr<Sha256Digest> digest = Sha256(spki_der);
  if (!digest.ok()) return std::string();  // OpenSSL failed: matches no key.
  return DigestToHex(*digest);
}

// --- EcPublicKey -----------------------------------------------------------

EcPublicKey::EcPublicKey(EvpPkeyPtr key, std::string spki_der)
    : key_(std::move(key)),
      spki_der_(std::move(spki_der)),
      key_id_(KeyIdOfSpki(spki_der_)) {}

absl::StatusOr<EcPublicKey> EcPublicKey::FromKey(EvpPkeyPtr key) {
  if (!IsP256(key.get())) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError("ec: not a P-256 key");
  }
  absl::StatusOr<std::string> der = SpkiDer(key.get());
  if (!der.ok()) return der.status();
  return EcPublicKey(std::move(key), *std::move(der));
}

absl::StatusOr<EcPublicKey> EcPublicKey::FromSpkiDer(absl::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "ec: not a DER SubjectPublicKeyInfo");
  }
  if (p != reinterpret_cast<const unsigned char*>(der.data() + der.size())) {
    return absl::InvalidArgumentError("ec: trailing bytes after the public key");
  }
  return FromKey(std::move(key));
}

absl::StatusOr<EcPublicKey> EcPublicKey::FromPem(absl::string_view pem) {
  BioPtr bio = ReadOnlyBio(pem);
  if (bio == nullptr) return OpenSslError(absl::StatusCode::kInternal, "ec: BIO");
  EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "ec: not a PEM public key");
  }
  return FromKey(std::move(key));
}

absl::StatusOr<std::string> EcPublicKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "ec: PEM_write_bio_PUBKEY");
  }
  return BioContents(bio.get());
}

absl::Status EcPublicKey::Verify(absl::string_view data,
                                 absl::string_view der_signature) const {
  EvpMdCtxPtr md(EVP_MD_CTX_new());
  if (md == nullptr ||
      EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr,
                           key_.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "ec: EVP_DigestVerifyInit");
  }
  const int rc = EVP_DigestVerify(
      md.get(), reinterpret_cast<const unsigned char*>(der_signature.data()),
      der_signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
      data.size());
  if (rc == 1) return absl::OkStatus();
  // 0: a well-formed signature that does not verify; < 0: a malformed one.
  ClearOpenSslErrors();
  return absl::UnauthenticatedError("ec: signature does not verify");
}

// --- EcPrivateKey ----------------------------------------------------------

EcPrivateKey::EcPrivateKey(EvpPkeyPtr key, EcPublicKey public_key)
    : key_(std::move(key)), public_key_(std::move(public_key)) {}

absl::StatusOr<EcPrivateKey> EcPrivateKey::FromKey(EvpPkeyPtr key) {
  if (!IsP256(key.get())) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError("ec: not a P-256 key");
  }
  // The public half, through its own encoding: it then holds no secret.
  absl::StatusOr<std::string> spki = SpkiDer(key.get());
  if (!spki.ok()) return spki.status();
  absl::StatusOr<EcPublicKey> pub = EcPublicKey::FromSpkiDer(*spki);
  if (!pub.ok()) return pub.status();
  return EcPrivateKey(std::move(key), *std::move(pub));
}

absl::StatusOr<EcPrivateKey> EcPrivateKey::Generate() {
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", kCurve));
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal, "ec: EVP_PKEY_Q_keygen");
  }
  return FromKey(std::move(key));
}

absl::StatusOr<EcPrivateKey> EcPrivateKey::FromPem(absl::string_view pem) {
  BioPtr bio = ReadOnlyBio(pem);
  if (bio == nullptr) return OpenSslError(absl::StatusCode::kInternal, "ec: BIO");
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "ec: not a PEM private key");
  }
  return FromKey(std::move(key));
}

absl::StatusOr<EcPrivateKey> EcPrivateKey::FromDer(absl::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  EvpPkeyPtr key(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size())));
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "ec: not a DER private key");
  }
  return FromKey(std::move(key));
}

absl::StatusOr<std::string> EcPrivateKey::ToPem() const {
  // Secure-heap memory: the encoding is cleansed when the BIO is freed.
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0,
                               nullptr, nullptr) != 1) {
    return OpenSslError(absl::StatusCode::kInternal,
                        "ec: PEM_write_bio_PrivateKey");
  }
  return BioContents(bio.get());
}

absl::StatusOr<std::string> EcPrivateKey::ToDer() const {
  OSSL_ENCODER_CTX* ctx = OSSL_ENCODER_CTX_new_for_pkey(
      key_.get(), OSSL_KEYMGMT_SELECT_KEYPAIR, "DER", "PrivateKeyInfo",
      nullptr);
  unsigned char* der = nullptr;
  size_t len = 0;
  const bool ok = ctx != nullptr && OSSL_ENCODER_CTX_get_num_encoders(ctx) > 0 &&
                  OSSL_ENCODER_to_data(ctx, &der, &len) == 1;
  OSSL_ENCODER_CTX_free(ctx);
  if (!ok) {
    return OpenSslError(absl::StatusCode::kInternal, "ec: PKCS#8 encoding");
  }
  std::string out(reinterpret_cast<const char*>(der), len);
  OPENSSL_clear_free(der, len);
  return out;
}

absl::StatusOr<std::string> EcPrivateKey::Sign(absl::string_view data) const {
  EvpMdCtxPtr md(EVP_MD_CTX_new());
  size_t len = 0;
  if (md == nullptr ||
      EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr,
                         key_.get()) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &len,
                     reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "ec: EVP_DigestSign");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()),
                     &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "ec: EVP_DigestSign");
  }
  sig.resize(len);
  return sig;
}

}  // namespace fedtiny::crypto
