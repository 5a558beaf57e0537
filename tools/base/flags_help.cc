#include "tools/base/flags_help.h"

#include "absl/flags/usage_config.h"
#include "absl/strings/string_view.h"

namespace fedtiny {

void ListEveryFlagInHelp() {
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view) { return true; };
  config.contains_helpshort_flags = [](absl::string_view) { return true; };
  absl::SetFlagsUsageConfig(config);
}

}  // namespace fedtiny
