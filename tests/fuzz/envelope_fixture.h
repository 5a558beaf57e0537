// Fixed keys for the envelope fuzz harness and its corpus generator: a device
// key and a model key (test keys, public in this source, protecting nothing),
// the binding the device expects, and a reference bundle and wrapped key.
#ifndef FEDTINY_TESTS_FUZZ_ENVELOPE_FIXTURE_H_
#define FEDTINY_TESTS_FUZZ_ENVELOPE_FIXTURE_H_

#include <string>

#include "proto/trust.pb.h"
#include "tools/base/crypto/ec_key.h"
#include "tools/base/crypto/secure_bytes.h"

namespace fedtiny::fuzz {

inline constexpr char kEnvelopePlaintext[] = "a serialized model bundle";

// EnvelopeFixture: built once (Get()); immutable afterwards, thread-safe.
struct EnvelopeFixture {
  static const EnvelopeFixture& Get();

  crypto::EcPrivateKey device;
  crypto::SecureBytes model_key;
  v1::BundleBinding binding;
  // kEnvelopePlaintext encrypted, and the model key wrapped to `device`, both
  // for `binding` (fresh nonces and ephemeral key per process).
  v1::EncryptedBundle bundle;
  v1::WrappedKey wrapped;
};

}  // namespace fedtiny::fuzz

#endif  // FEDTINY_TESTS_FUZZ_ENVELOPE_FIXTURE_H_
