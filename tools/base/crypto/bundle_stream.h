// Opening an encrypted bundle while it downloads (docs/security.md,
// "Encrypted bundles and device keys"): the serialized v1::EncryptedBundle is
// fed in the pieces it arrives in, decrypted piece by piece into one
// SecureBytes, and authenticated at the end, so that after the last byte only
// the GCM tag is left to check, and the ciphertext is never held whole.
//
// The stream must be the coordinator's encoding, fields in number order:
// format (1), nonce (2), ciphertext (3), binding (4), each once; anything else
// is refused as malformed. Its tags, varints and the trailing binding are read
// with protobuf's own CodedInputStream and parser. Same status codes as
// DecryptBundle (envelope.h): kInvalidArgument malformed, kFailedPrecondition
// (kBindingMismatch) another binding, kUnauthenticated a tag that does not
// verify. Until Finish returns the plaintext it is unauthenticated and never
// handed out; on any failure it is wiped.
#ifndef FEDTINY_TOOLS_BASE_CRYPTO_BUNDLE_STREAM_H_
#define FEDTINY_TOOLS_BASE_CRYPTO_BUNDLE_STREAM_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/trust.pb.h"
#include "tools/base/crypto/aead.h"
#include "tools/base/crypto/secure_bytes.h"

namespace fedtiny::crypto {

// One bundle's stream. Not thread-safe; owns a copy of the model key (wiped
// once the cipher is set up or the opener is dropped) and the plaintext.
class BundleStreamOpener {
 public:
  // `total_bytes` is the serialized bundle's size, as its signed target says:
  // more input is refused, less is refused at Finish. kInvalidArgument for a
  // model key of the wrong size.
  static absl::StatusOr<BundleStreamOpener> Start(const SecureBytes& model_key,
                                                  const v1::BundleBinding& expected,
                                                  uint64_t total_bytes);
  BundleStreamOpener(BundleStreamOpener&&) = default;
  BundleStreamOpener& operator=(BundleStreamOpener&&) = default;

  // Update takes the next piece. An error is final.
  absl::Status Update(absl::string_view piece);
  // Finish checks that every byte came, the binding, then the tag, and
  // returns the plaintext. The opener is spent.
  absl::StatusOr<SecureBytes> Finish();

  uint64_t received() const { return received_; }

 private:
  enum class State { kHeader, kBody, kTrailer, kFailed };
  BundleStreamOpener(SecureBytes key, v1::BundleBinding expected, uint64_t total)
      : key_(std::move(key)), expected_(std::move(expected)), total_(total) {}
  // Parses head_ once it holds format, nonce and the ciphertext's length.
  absl::Status TryHeader();
  absl::Status Body(absl::string_view piece);
  absl::Status Fail(absl::Status s);

  SecureBytes key_;
  v1::BundleBinding expected_;
  uint64_t total_ = 0;
  uint64_t received_ = 0;
  State state_ = State::kHeader;
  std::string head_;     // Header bytes until parsed.
  std::optional<Aes256GcmStreamOpener> cipher_;
  SecureBytes plain_;    // The ciphertext's size minus the tag.
  uint64_t body_left_ = 0;  // Ciphertext bytes (tag included) still to come.
  std::string tag_;
  std::string trailer_;  // The binding field, kept whole (small).
};

}  // namespace fedtiny::crypto

#endif  // FEDTINY_TOOLS_BASE_CRYPTO_BUNDLE_STREAM_H_
