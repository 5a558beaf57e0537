#include "tests/fuzz/envelope_fixture.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/escaping.h"
#include "tools/base/crypto/envelope.h"

namespace fedtiny::fuzz {
namespace {

constexpr char kDeviceKeyPem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgQ+3Kjb8y2SnWyG4U\n"
    "uDoU1Vr+W3l/qab/r7HQ9bIhSauhRANCAAQl6Z/pTYsskP+pZOloRoJbtubHKltZ\n"
    "91QA2BCu4RFS/nItCXiMK5mTdQJ4uTwQAA9OwjCZCk4u7NphIsnk9LSL\n"
    "-----END PRIVATE KEY-----\n";
constexpr char kModelKeyHex[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

template <typename T>
T OrDie(absl::StatusOr<T> v) {
  if (!v.ok()) {
    std::cerr << "envelope fixture: " << v.status() << std::endl;
    std::abort();
  }
  return *std::move(v);
}

v1::BundleBinding Binding() {
  v1::BundleBinding b;
  b.set_task("kws");
  b.set_cluster("3");
  b.set_model_version(12);
  b.set_variant("int8");
  return b;
}

EnvelopeFixture* Make() {
  crypto::EcPrivateKey device = OrDie(crypto::EcPrivateKey::FromPem(kDeviceKeyPem));
  crypto::SecureBytes model_key =
      crypto::SecureBytes::CopyOf(absl::HexStringToBytes(kModelKeyHex));
  v1::EncryptedBundle bundle =
      OrDie(crypto::EncryptBundle(model_key, Binding(), kEnvelopePlaintext));
  v1::WrappedKey wrapped =
      OrDie(crypto::WrapModelKey(device.public_key(), model_key, Binding()));
  return new EnvelopeFixture{std::move(device), std::move(model_key), Binding(),
                             std::move(bundle), std::move(wrapped)};
}

}  // namespace

const EnvelopeFixture& EnvelopeFixture::Get() {
  static const EnvelopeFixture* fixture = Make();
  return *fixture;
}

}  // namespace fedtiny::fuzz
