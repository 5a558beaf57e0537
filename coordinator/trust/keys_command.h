// `flctl keys ...`: the operator's offline key commands over a trust
// directory (coordinator/trust/key_dir.h). No server is involved.
//
//   keys init --dir=D                     root key (offline), online keys, root 1
//   keys rotate --dir=D --role=R          new key for R, next root version
//   keys revoke --dir=D --key_id=K        drop K everywhere, next root version
//   keys show --dir=D                     the newest root's roles and keys
#ifndef FEDTINY_COORDINATOR_TRUST_KEYS_COMMAND_H_
#define FEDTINY_COORDINATOR_TRUST_KEYS_COMMAND_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fedtiny::coordinator {

struct KeysArgs {
  std::string sub;  // init, rotate, revoke, show
  std::string dir;
  std::string role;
  std::string key_id;
};

// RunKeysCommand runs one command at `now` and returns what to print.
// kInvalidArgument for a missing flag or unknown subcommand, else the key
// directory's codes. Blocks on disk.
absl::StatusOr<std::string> RunKeysCommand(const KeysArgs& args, absl::Time now);

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_TRUST_KEYS_COMMAND_H_
