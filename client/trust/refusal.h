// Why the device refused metadata or a target: one stable reason per attack
// class or failure, carried in the absl::Status message as "trust:<name>:
// <detail>" (e.g. "trust:rollback: timestamp version 3 < trusted 5") and
// recoverable with RefusalReasonOf(), so the device can report it to the
// server. Names never change once shipped; new reasons are appended.
#ifndef FEDTINY_CLIENT_TRUST_REFUSAL_H_
#define FEDTINY_CLIENT_TRUST_REFUSAL_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace fedtiny::client::trust {

enum class RefusalReason {
  kNone = 0,             // OK status
  kUnknown,              // an error without a trust reason
  kMalformed,            // bytes that do not parse, or an invalid field
  kWrongRole,            // a role's type is not the one expected
  kSignatureThreshold,   // fewer valid signatures than the role's threshold
  kRollback,             // a version lower than the trusted one
  kRootVersionGap,       // root N+1 is not version N+1
  kExpired,              // a role expired before the trusted time
  kMixAndMatch,          // a role's version is not the one its parent names
  kLengthMismatch,       // metadata of another length than its parent names
  kHashMismatch,         // metadata of another hash than its parent names
  kEndlessData,          // a file longer than its bound
  kSlowRetrieval,        // a fetch past its deadline
  kFetchFailed,          // the repository could not be reached
  kUnknownTarget,        // no such target in the trusted targets
  kTargetLength,         // a target of another length than trusted
  kTargetHash,           // a target of another SHA-256 than trusted
  kNoDirective,          // no target directed to this device class
  kNoTrustedTargets,     // no verified targets yet
  kDirectiveMismatch,    // a bundle of another variant than the class is directed to
  kStorage,              // the trusted set could not be read or written
};

// RefusalReasonName returns the stable name ("rollback", "expired", ...).
absl::string_view RefusalReasonName(RefusalReason reason);

// Refusal returns the status for `reason`: its fixed code (kFailedPrecondition
// for rollback, version and expiry refusals, kUnauthenticated for signatures,
// kDataLoss for length and hash mismatches, kResourceExhausted for endless
// data, kDeadlineExceeded for slow retrieval, kUnavailable for fetch failures,
// kNotFound for unknown targets and directives, kInvalidArgument for malformed
// and wrong-role metadata, kInternal for storage) and the message
// "trust:<name>: <detail>".
absl::Status Refusal(RefusalReason reason, absl::string_view detail);

// RefusalReasonOf recovers the reason from a status Refusal made; kNone for
// OK, kUnknown for any other status.
RefusalReason RefusalReasonOf(const absl::Status& status);

}  // namespace fedtiny::client::trust

#endif  // FEDTINY_CLIENT_TRUST_REFUSAL_H_
