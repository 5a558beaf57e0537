// Fuzzes encrypted bundles and wrapped model keys on the device
// (tools/base/crypto/envelope.h), with the fixed keys of envelope_fixture.h.
//
// Input: [mode: uint8][rest]. Mode % 4:
//   0  rest is a serialized EncryptedBundle, decrypted with the model key for
//      the expected binding;
//   1  rest is a serialized WrappedKey, unwrapped with the device key for the
//      expected scope;
//   2  rest is [offset: uint16][xor: uint8]...: byte edits of the serialized
//      reference bundle, which is then decrypted;
//   3  the same edits of the serialized reference wrapped key, then unwrapped.
//
// Invariants: every refusal is kInvalidArgument, kUnauthenticated or a binding
// mismatch (kFailedPrecondition, IsBindingMismatch); a bundle that decrypts
// has the expected binding and re-seals under its nonce to its exact
// ciphertext; a key that unwraps is the model key; an edited reference opens
// if and only if it still parses to the same fields (a flipped bit of the
// nonce, ciphertext, tag or binding never gets through).
#include <cstdint>
#include <string>

#include "proto/trust.pb.h"
#include "tests/fuzz/envelope_fixture.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"
#include "tools/base/crypto/aead.h"
#include "tools/base/crypto/envelope.h"

namespace fedtiny::fuzz {
namespace {

bool IsRefusal(const absl::Status& s) {
  return s.code() == absl::StatusCode::kInvalidArgument ||
         s.code() == absl::StatusCode::kUnauthenticated ||
         crypto::IsBindingMismatch(s);
}

bool SameBundle(const v1::EncryptedBundle& a, const v1::EncryptedBundle& b) {
  return a.format() == b.format() && a.nonce() == b.nonce() &&
         a.ciphertext() == b.ciphertext() &&
         crypto::SameBinding(a.binding(), b.binding());
}

bool SameWrap(const v1::WrappedKey& a, const v1::WrappedKey& b) {
  return a.format() == b.format() && a.nonce() == b.nonce() &&
         a.ciphertext() == b.ciphertext() &&
         a.ephemeral_public_spki() == b.ephemeral_public_spki() &&
         a.device_key_id() == b.device_key_id() &&
         crypto::SameBinding(a.scope(), b.scope());
}

// Returns whether it opened.
bool OpenBundle(const v1::EncryptedBundle& bundle) {
  const EnvelopeFixture& f = EnvelopeFixture::Get();
  absl::StatusOr<crypto::SecureBytes> plain =
      crypto::DecryptBundle(f.model_key, f.binding, bundle);
  if (!plain.ok()) {
    FUZZ_CHECK(IsRefusal(plain.status())) << plain.status();
    return false;
  }
  FUZZ_CHECK(crypto::SameBinding(bundle.binding(), f.binding));
  absl::StatusOr<std::string> resealed = crypto::Aes256GcmSeal(
      f.model_key.view(), bundle.nonce(),
      crypto::BundleAad(bundle.format(), bundle.binding()), plain->view());
  FUZZ_CHECK_OK(resealed);
  FUZZ_CHECK(*resealed == bundle.ciphertext()) << "opened a forged bundle";
  return true;
}

bool OpenWrap(const v1::WrappedKey& wrapped) {
  const EnvelopeFixture& f = EnvelopeFixture::Get();
  absl::StatusOr<crypto::SecureBytes> key =
      crypto::UnwrapModelKey(f.device, wrapped, f.binding);
  if (!key.ok()) {
    FUZZ_CHECK(IsRefusal(key.status())) << key.status();
    return false;
  }
  FUZZ_CHECK(key->view() == f.model_key.view()) << "unwrapped a forged key";
  FUZZ_CHECK(crypto::SameBinding(wrapped.scope(), f.binding));
  return true;
}

std::string Edited(std::string bytes, FuzzInput& in) {
  while (!in.empty() && !bytes.empty()) {
    const uint16_t offset = in.Take<uint16_t>();
    bytes[offset % bytes.size()] ^= static_cast<char>(in.Take<uint8_t>());
  }
  return bytes;
}

}  // namespace
}  // namespace fedtiny::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedtiny;        // NOLINT(build/namespaces)
  using namespace fedtiny::fuzz;  // NOLINT(build/namespaces)
  FuzzInput in(data, size);
  const EnvelopeFixture& f = EnvelopeFixture::Get();
  const uint8_t mode = in.Take<uint8_t>() % 4;
  if (mode == 0 || mode == 2) {
    const std::string bytes =
        mode == 0 ? in.Rest() : Edited(f.bundle.SerializeAsString(), in);
    v1::EncryptedBundle bundle;
    if (!bundle.ParseFromString(bytes)) return 0;
    const bool opened = OpenBundle(bundle);
    if (mode == 2) {
      FUZZ_CHECK(opened == SameBundle(bundle, f.bundle)) << "an edit got through";
    }
  } else {
    const std::string bytes =
        mode == 1 ? in.Rest() : Edited(f.wrapped.SerializeAsString(), in);
    v1::WrappedKey wrapped;
    if (!wrapped.ParseFromString(bytes)) return 0;
    const bool opened = OpenWrap(wrapped);
    if (mode == 3) {
      FUZZ_CHECK(opened == SameWrap(wrapped, f.wrapped)) << "an edit got through";
    }
  }
  return 0;
}
