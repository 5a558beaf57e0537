#include "tools/base/crypto/bundle_stream.h"

#include <algorithm>
#include <utility>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include "absl/strings/str_cat.h"
#include "tools/base/crypto/envelope.h"

namespace fedtiny::crypto {
namespace {

using google::protobuf::internal::WireFormatLite;

// Bounds that keep a hostile stream from making the header or trailer buffers
// grow: the header is at most a few dozen bytes, a binding a few hundred.
constexpr size_t kMaxHeaderBytes = 64;
constexpr size_t kMaxTrailerBytes = 4096;

absl::Status Malformed(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("envelope: malformed bundle stream: ", why));
}

}  // namespace

absl::StatusOr<BundleStreamOpener> BundleStreamOpener::Start(const SecureBytes& model_key,
                                                             const v1::BundleBinding& expected,
                                                             uint64_t total_bytes) {
  if (model_key.size() != kModelKeyBytes) {
    return absl::InvalidArgumentError("envelope: the model key is not 32 bytes");
  }
  return BundleStreamOpener(SecureBytes::CopyOf(model_key.view()), expected, total_bytes);
}

absl::Status BundleStreamOpener::Fail(absl::Status s) {
  state_ = State::kFailed;
  plain_.Wipe();
  key_.Wipe();
  cipher_.reset();
  return s;
}

absl::Status BundleStreamOpener::Update(absl::string_view piece) {
  if (state_ == State::kFailed) return absl::FailedPreconditionError("envelope: the stream failed");
  if (piece.size() > total_ - received_) {
    return Fail(Malformed(absl::StrCat("more than the ", total_, " bytes signed")));
  }
  received_ += piece.size();
  if (state_ == State::kHeader) {
    const size_t want = kMaxHeaderBytes - head_.size();
    const size_t take = std::min(want, piece.size());
    head_.append(piece.data(), take);
    piece.remove_prefix(take);
    absl::Status s = TryHeader();
    if (!s.ok()) return Fail(s);
    if (state_ == State::kHeader) {
      if (head_.size() == kMaxHeaderBytes) return Fail(Malformed("no ciphertext field"));
      return absl::OkStatus();  // Needs more; `piece` is empty here.
    }
    // head_ now holds what followed the header: body (and maybe trailer).
    std::string rest = std::move(head_);
    head_.clear();
    if (absl::Status b = Body(rest); !b.ok()) return Fail(b);
  }
  if (!piece.empty()) {
    if (absl::Status b = Body(piece); !b.ok()) return Fail(b);
  }
  return absl::OkStatus();
}

absl::Status BundleStreamOpener::TryHeader() {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(head_.data()),
                                            static_cast<int>(head_.size()));
  uint32_t format = 0, nonce_len = 0, body_len = 0;
  std::string nonce;
  // A truncated read means "not yet": wait for more bytes.
  uint32_t tag = in.ReadTag();
  if (tag == 0) return absl::OkStatus();
  if (tag != WireFormatLite::MakeTag(v1::EncryptedBundle::kFormatFieldNumber,
                                     WireFormatLite::WIRETYPE_VARINT)) {
    return Malformed("the first field is not the format");
  }
  if (!in.ReadVarint32(&format)) return absl::OkStatus();
  if (format != kBundleFormatAes256Gcm) {
    return absl::InvalidArgumentError(absl::StrCat("envelope: unknown bundle format ", format));
  }
  tag = in.ReadTag();
  if (tag == 0) return absl::OkStatus();
  if (tag != WireFormatLite::MakeTag(v1::EncryptedBundle::kNonceFieldNumber,
                                     WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {
    return Malformed("the second field is not the nonce");
  }
  if (!in.ReadVarint32(&nonce_len)) return absl::OkStatus();
  if (nonce_len != kGcmNonceBytes) return absl::InvalidArgumentError("envelope: malformed bundle");
  if (!in.ReadString(&nonce, static_cast<int>(nonce_len))) return absl::OkStatus();
  tag = in.ReadTag();
  if (tag == 0) return absl::OkStatus();
  if (tag != WireFormatLite::MakeTag(v1::EncryptedBundle::kCiphertextFieldNumber,
                                     WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {
    return Malformed("the third field is not the ciphertext");
  }
  if (!in.ReadVarint32(&body_len)) return absl::OkStatus();
  const uint64_t header = static_cast<uint64_t>(in.CurrentPosition());
  if (body_len < kGcmTagBytes || header + body_len > total_) {
    return absl::InvalidArgumentError("envelope: malformed bundle");
  }
  absl::StatusOr<Aes256GcmStreamOpener> cipher =
      Aes256GcmStreamOpener::Start(key_.view(), nonce, BundleAad(format, expected_));
  key_.Wipe();
  if (!cipher.ok()) return cipher.status();
  cipher_.emplace(*std::move(cipher));
  plain_ = SecureBytes::ForOverwrite(body_len - kGcmTagBytes);
  body_left_ = body_len;
  head_.erase(0, header);
  state_ = State::kBody;
  return absl::OkStatus();
}

absl::Status BundleStreamOpener::Body(absl::string_view piece) {
  if (state_ == State::kBody) {
    const uint64_t n = std::min<uint64_t>(body_left_, piece.size());
    absl::string_view body = piece.substr(0, n);
    piece.remove_prefix(n);
    // Bytes before the last 16 are ciphertext; the last 16 are the tag.
    const uint64_t ciphertext_left = body_left_ > kGcmTagBytes ? body_left_ - kGcmTagBytes : 0;
    const uint64_t c = std::min<uint64_t>(ciphertext_left, body.size());
    if (c > 0) {
      const uint64_t at = plain_.size() - ciphertext_left;
      if (absl::Status s = cipher_->Update(body.substr(0, c), plain_.data() + at); !s.ok()) {
        return s;
      }
    }
    tag_.append(body.data() + c, body.size() - c);
    body_left_ -= n;
    if (body_left_ == 0) state_ = State::kTrailer;
  }
  if (!piece.empty()) {
    if (state_ != State::kTrailer || trailer_.size() + piece.size() > kMaxTrailerBytes) {
      return Malformed("too many bytes after the ciphertext");
    }
    trailer_.append(piece.data(), piece.size());
  }
  return absl::OkStatus();
}

absl::StatusOr<SecureBytes> BundleStreamOpener::Finish() {
  if (state_ == State::kFailed) return absl::FailedPreconditionError("envelope: the stream failed");
  if (received_ != total_ || state_ != State::kTrailer) {
    return Fail(Malformed(absl::StrCat("ended after ", received_, " of ", total_, " bytes")));
  }
  // The trailer is the binding field alone; parsed by protobuf as a bundle
  // that must hold nothing else.
  v1::EncryptedBundle trailer, only;
  bool one_binding = trailer.ParseFromString(trailer_);
  if (one_binding && !trailer_.empty()) {
    *only.mutable_binding() = trailer.binding();
    one_binding = only.SerializeAsString() == trailer_;  // Nothing else, nothing unknown.
  }
  if (!one_binding) {
    return Fail(Malformed("the fields after the ciphertext are not one binding"));
  }
  if (!SameBinding(trailer.binding(), expected_)) {
    return Fail(absl::FailedPreconditionError(absl::StrCat(
        kBindingMismatch, ": the bundle is bound to another task, cluster, version or variant")));
  }
  absl::Status s = cipher_->Finish(tag_);
  cipher_.reset();
  if (s.code() == absl::StatusCode::kUnauthenticated) {
    return Fail(absl::UnauthenticatedError(
        "envelope: the bundle does not authenticate under this model key"));
  }
  if (!s.ok()) return Fail(s);
  state_ = State::kFailed;  // Spent.
  return std::move(plain_);
}

}  // namespace fedtiny::crypto
