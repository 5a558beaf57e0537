#include "tools/base/crypto/envelope.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tools/base/crypto/aead.h"
#include "tools/base/crypto/ecdh.h"
#include "tools/base/crypto/hkdf.h"

namespace fedtiny::crypto {
namespace {

constexpr char kBundleLabel[] = "fedtiny.bundle";
constexpr char kWrappedLabel[] = "fedtiny.wrapped-key";
constexpr char kKekLabel[] = "fedtiny.wrap-kek.v1";

void PutBe(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

// LP(x): 4-byte big-endian length, then x. Protobuf caps fields below 2 GiB.
void PutLp(std::string& out, absl::string_view s) {
  PutBe(out, s.size(), 4);
  out.append(s.data(), s.size());
}

void PutBinding(std::string& out, const v1::BundleBinding& b) {
  PutLp(out, b.task());
  PutLp(out, b.cluster());
  PutBe(out, static_cast<uint64_t>(b.model_version()), 8);
  PutLp(out, b.variant());
}

absl::Status Mismatch(absl::string_view what, absl::string_view got,
                      absl::string_view want) {
  return absl::FailedPreconditionError(absl::StrCat(
      kBindingMismatch, ": ", what, " \"", got, "\", expected \"", want, "\""));
}

absl::Status CheckBinding(absl::string_view what, const v1::BundleBinding& got,
                          const v1::BundleBinding& want) {
  if (got.task() != want.task()) {
    return Mismatch(absl::StrCat(what, " task"), got.task(), want.task());
  }
  if (got.cluster() != want.cluster()) {
    return Mismatch(absl::StrCat(what, " cluster"), got.cluster(), want.cluster());
  }
  if (got.model_version() != want.model_version()) {
    return Mismatch(absl::StrCat(what, " model_version"),
                    absl::StrCat(got.model_version()),
                    absl::StrCat(want.model_version()));
  }
  if (got.variant() != want.variant()) {
    return Mismatch(absl::StrCat(what, " variant"), got.variant(), want.variant());
  }
  return absl::OkStatus();
}

absl::Status CheckModelKey(const SecureBytes& key) {
  if (key.size() != kModelKeyBytes) {
    return absl::InvalidArgumentError("envelope: the model key is not 32 bytes");
  }
  return absl::OkStatus();
}

// The key-encryption key of a wrap between these two public keys.
absl::StatusOr<SecureBytes> Kek(const SecureBytes& shared_secret,
                                absl::string_view ephemeral_spki,
                                absl::string_view device_spki) {
  std::string info;
  PutLp(info, kKekLabel);
  PutLp(info, ephemeral_spki);
  PutLp(info, device_spki);
  return HkdfSha256(shared_secret.view(), "", info, kAes256KeyBytes);
}

}  // namespace

std::string BundleAad(uint32_t format, const v1::BundleBinding& binding) {
  std::string out;
  PutLp(out, kBundleLabel);
  PutBe(out, format, 4);
  PutBinding(out, binding);
  return out;
}

std::string WrappedKeyAad(const v1::WrappedKey& wrapped) {
  std::string out;
  PutLp(out, kWrappedLabel);
  PutBe(out, wrapped.format(), 4);
  PutLp(out, wrapped.device_key_id());
  PutLp(out, wrapped.ephemeral_public_spki());
  PutBinding(out, wrapped.scope());
  return out;
}

bool SameBinding(const v1::BundleBinding& a, const v1::BundleBinding& b) {
  return CheckBinding("", a, b).ok();
}

bool IsBindingMismatch(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition &&
         absl::StartsWith(status.message(), kBindingMismatch);
}

absl::StatusOr<SecureBytes> NewModelKey() { return RandomSecret(kModelKeyBytes); }

absl::StatusOr<v1::EncryptedBundle> EncryptBundle(
    const SecureBytes& model_key, const v1::BundleBinding& binding,
    absl::string_view plaintext) {
  if (absl::Status s = CheckModelKey(model_key); !s.ok()) return s;
  absl::StatusOr<std::string> nonce = RandomBytes(kGcmNonceBytes);
  if (!nonce.ok()) return nonce.status();
  absl::StatusOr<std::string> sealed =
      Aes256GcmSeal(model_key.view(), *nonce,
                    BundleAad(kBundleFormatAes256Gcm, binding), plaintext);
  if (!sealed.ok()) return sealed.status();
  v1::EncryptedBundle out;
  out.set_format(kBundleFormatAes256Gcm);
  out.set_nonce(*std::move(nonce));
  out.set_ciphertext(*std::move(sealed));
  *out.mutable_binding() = binding;
  return out;
}

absl::StatusOr<SecureBytes> DecryptBundle(const SecureBytes& model_key,
                                          const v1::BundleBinding& expected,
                                          const v1::EncryptedBundle& bundle) {
  if (bundle.format() != kBundleFormatAes256Gcm) {
    return absl::InvalidArgumentError(
        absl::StrCat("envelope: unknown bundle format ", bundle.format()));
  }
  if (bundle.nonce().size() != kGcmNonceBytes ||
      bundle.ciphertext().size() < kGcmTagBytes) {
    return absl::InvalidArgumentError("envelope: malformed bundle");
  }
  if (absl::Status s = CheckModelKey(model_key); !s.ok()) return s;
  if (absl::Status s = CheckBinding("bundle", bundle.binding(), expected);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<SecureBytes> plain =
      Aes256GcmOpen(model_key.view(), bundle.nonce(),
                    BundleAad(bundle.format(), bundle.binding()),
                    bundle.ciphertext());
  if (plain.status().code() == absl::StatusCode::kUnauthenticated) {
    return absl::UnauthenticatedError(
        "envelope: the bundle does not authenticate under this model key");
  }
  return plain;
}

absl::StatusOr<v1::WrappedKey> WrapModelKey(const EcPublicKey& device_key,
                                            const SecureBytes& model_key,
                                            const v1::BundleBinding& scope) {
  if (absl::Status s = CheckModelKey(model_key); !s.ok()) return s;
  absl::StatusOr<EcPrivateKey> ephemeral = EcPrivateKey::Generate();
  if (!ephemeral.ok()) return ephemeral.status();
  absl::StatusOr<SecureBytes> secret = EcdhP256(*ephemeral, device_key);
  if (!secret.ok()) return secret.status();
  v1::WrappedKey out;
  out.set_format(kWrapFormatP256HkdfAes256Gcm);
  out.set_ephemeral_public_spki(ephemeral->public_key().spki_der());
  out.set_device_key_id(device_key.key_id());
  *out.mutable_scope() = scope;
  absl::StatusOr<SecureBytes> kek =
      Kek(*secret, out.ephemeral_public_spki(), device_key.spki_der());
  if (!kek.ok()) return kek.status();
  absl::StatusOr<std::string> nonce = RandomBytes(kGcmNonceBytes);
  if (!nonce.ok()) return nonce.status();
  absl::StatusOr<std::string> sealed =
      Aes256GcmSeal(kek->view(), *nonce, WrappedKeyAad(out), model_key.view());
  if (!sealed.ok()) return sealed.status();
  out.set_nonce(*std::move(nonce));
  out.set_ciphertext(*std::move(sealed));
  return out;
}

absl::Status CheckWrappedKey(const v1::WrappedKey& wrapped,
                             absl::string_view device_key_id,
                             const v1::BundleBinding& expected_scope) {
  if (wrapped.format() != kWrapFormatP256HkdfAes256Gcm) {
    return absl::InvalidArgumentError(
        absl::StrCat("envelope: unknown wrapped key format ", wrapped.format()));
  }
  if (wrapped.nonce().size() != kGcmNonceBytes ||
      wrapped.ciphertext().size() != kModelKeyBytes + kGcmTagBytes) {
    return absl::InvalidArgumentError("envelope: malformed wrapped key");
  }
  if (wrapped.device_key_id() != device_key_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        kBindingMismatch, ": the key is wrapped to another device key"));
  }
  return CheckBinding("wrapped key scope", wrapped.scope(), expected_scope);
}

absl::StatusOr<SecureBytes> UnwrapModelKeyFromSecret(
    const SecureBytes& shared_secret, absl::string_view device_spki,
    const v1::WrappedKey& wrapped, const v1::BundleBinding& expected_scope) {
  if (absl::Status s =
          CheckWrappedKey(wrapped, KeyIdOfSpki(device_spki), expected_scope);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<SecureBytes> kek =
      Kek(shared_secret, wrapped.ephemeral_public_spki(), device_spki);
  if (!kek.ok()) return kek.status();
  absl::StatusOr<SecureBytes> key = Aes256GcmOpen(
      kek->view(), wrapped.nonce(), WrappedKeyAad(wrapped), wrapped.ciphertext());
  if (key.status().code() == absl::StatusCode::kUnauthenticated) {
    return absl::UnauthenticatedError(
        "envelope: the wrapped key does not authenticate under this device key");
  }
  return key;
}

absl::StatusOr<SecureBytes> UnwrapModelKey(const EcPrivateKey& device_key,
                                           const v1::WrappedKey& wrapped,
                                           const v1::BundleBinding& expected_scope) {
  const EcPublicKey& pub = device_key.public_key();
  if (absl::Status s = CheckWrappedKey(wrapped, pub.key_id(), expected_scope);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<EcPublicKey> ephemeral =
      EcPublicKey::FromSpkiDer(wrapped.ephemeral_public_spki());
  if (!ephemeral.ok()) {
    return absl::InvalidArgumentError("envelope: bad ephemeral public key");
  }
  absl::StatusOr<SecureBytes> secret = EcdhP256(device_key, *ephemeral);
  if (!secret.ok()) return secret.status();
  return UnwrapModelKeyFromSecret(*secret, pub.spki_der(), wrapped,
                                  expected_scope);
}

}  // namespace fedtiny::crypto
