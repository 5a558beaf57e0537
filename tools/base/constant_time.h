// Comparison of secrets (tokens, MACs) in time independent of where they differ.
#ifndef FEDTINY_TOOLS_BASE_CONSTANT_TIME_H_
#define FEDTINY_TOOLS_BASE_CONSTANT_TIME_H_

#include "absl/strings/string_view.h"

namespace fedtiny {

// Returns a == b. Runs in time that depends only on the lengths, never on the
// contents (OpenSSL's CRYPTO_memcmp). Unequal lengths compare unequal.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace fedtiny

#endif  // FEDTINY_TOOLS_BASE_CONSTANT_TIME_H_
