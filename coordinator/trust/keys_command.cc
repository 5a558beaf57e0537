#include "coordinator/trust/keys_command.h"

#include "absl/strings/str_cat.h"
#include "coordinator/trust/key_dir.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator {

absl::StatusOr<std::string> RunKeysCommand(const KeysArgs& a, absl::Time now) {
  if (a.dir.empty()) return absl::InvalidArgumentError("keys: --dir is required");
  if (a.sub == "init") {
    ASSIGN_OR_RETURN(KeyDir kd, InitKeyDir(a.dir, now));
    return absl::StrCat("created ", a.dir, ": keep ", a.dir,
                        "/offline (the root key) off the server; give the coordinator ", a.dir,
                        "/metadata and ", a.dir, "/online (--trust_dir)\n", DescribeKeyDir(kd));
  }
  if (a.sub == "rotate") {
    if (a.role.empty()) return absl::InvalidArgumentError("keys rotate: --role is required");
    ASSIGN_OR_RETURN(v1::RoleType role, RoleByName(a.role));
    ASSIGN_OR_RETURN(std::string id, RotateKey(a.dir, role, now));
    ASSIGN_OR_RETURN(KeyDir kd, LoadKeyDir(a.dir));
    return absl::StrCat("new ", RoleName(role), " key ", id, " in root version ",
                        kd.root.version(), "; restart the coordinator to use it\n",
                        DescribeKeyDir(kd));
  }
  if (a.sub == "revoke") {
    if (a.key_id.empty()) return absl::InvalidArgumentError("keys revoke: --key_id is required");
    RETURN_IF_ERROR(RevokeKey(a.dir, a.key_id, now));
    ASSIGN_OR_RETURN(KeyDir kd, LoadKeyDir(a.dir));
    return absl::StrCat("revoked ", a.key_id, " in root version ", kd.root.version(),
                        "; restart the coordinator to use it\n", DescribeKeyDir(kd));
  }
  if (a.sub == "show") {
    ASSIGN_OR_RETURN(KeyDir kd, LoadKeyDir(a.dir));
    return DescribeKeyDir(kd);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("keys: unknown subcommand '", a.sub, "' (init, rotate, revoke, show)"));
}

}  // namespace fedtiny::coordinator
