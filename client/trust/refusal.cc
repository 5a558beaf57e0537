#include "client/trust/refusal.h"

#include <iterator>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace fedtiny::client::trust {
namespace {

struct Entry {
  RefusalReason reason;
  const char* name;
  absl::StatusCode code;
};

constexpr Entry kTable[] = {
    {RefusalReason::kNone, "none", absl::StatusCode::kOk},
    {RefusalReason::kUnknown, "unknown", absl::StatusCode::kUnknown},
    {RefusalReason::kMalformed, "malformed", absl::StatusCode::kInvalidArgument},
    {RefusalReason::kWrongRole, "wrong_role", absl::StatusCode::kInvalidArgument},
    {RefusalReason::kSignatureThreshold, "signature_threshold",
     absl::StatusCode::kUnauthenticated},
    {RefusalReason::kRollback, "rollback", absl::StatusCode::kFailedPrecondition},
    {RefusalReason::kRootVersionGap, "root_version_gap",
     absl::StatusCode::kFailedPrecondition},
    {RefusalReason::kExpired, "expired", absl::StatusCode::kFailedPrecondition},
    {RefusalReason::kMixAndMatch, "mix_and_match",
     absl::StatusCode::kFailedPrecondition},
    {RefusalReason::kLengthMismatch, "length_mismatch", absl::StatusCode::kDataLoss},
    {RefusalReason::kHashMismatch, "hash_mismatch", absl::StatusCode::kDataLoss},
    {RefusalReason::kEndlessData, "endless_data",
     absl::StatusCode::kResourceExhausted},
    {RefusalReason::kSlowRetrieval, "slow_retrieval",
     absl::StatusCode::kDeadlineExceeded},
    {RefusalReason::kFetchFailed, "fetch_failed", absl::StatusCode::kUnavailable},
    {RefusalReason::kUnknownTarget, "unknown_target", absl::StatusCode::kNotFound},
    {RefusalReason::kTargetLength, "target_length", absl::StatusCode::kDataLoss},
    {RefusalReason::kTargetHash, "target_hash", absl::StatusCode::kDataLoss},
    {RefusalReason::kNoDirective, "no_directive", absl::StatusCode::kNotFound},
    {RefusalReason::kNoTrustedTargets, "no_trusted_targets",
     absl::StatusCode::kFailedPrecondition},
    {RefusalReason::kDirectiveMismatch, "directive_mismatch",
     absl::StatusCode::kFailedPrecondition},
    {RefusalReason::kStorage, "storage", absl::StatusCode::kInternal},
};

const Entry& Find(RefusalReason reason) {
  for (const Entry& e : kTable) {
    if (e.reason == reason) return e;
  }
  return kTable[1];
}

}  // namespace

absl::string_view RefusalReasonName(RefusalReason reason) {
  return Find(reason).name;
}

absl::Status Refusal(RefusalReason reason, absl::string_view detail) {
  const Entry& e = Find(reason);
  const absl::StatusCode code =
      e.code == absl::StatusCode::kOk ? absl::StatusCode::kUnknown : e.code;
  return absl::Status(code, absl::StrCat("trust:", e.name, ": ", detail));
}

RefusalReason RefusalReasonOf(const absl::Status& status) {
  if (status.ok()) return RefusalReason::kNone;
  for (const Entry& e : kTable) {
    if (e.reason == RefusalReason::kNone) continue;
    if (absl::StartsWith(status.message(), absl::StrCat("trust:", e.name, ":")) &&
        status.code() == e.code) {
      return e.reason;
    }
  }
  return RefusalReason::kUnknown;
}

}  // namespace fedtiny::client::trust
