#include "tools/cross/mcu/targets_check.h"

#include <cstring>

#include "pb_decode.h"

namespace fedtiny::mcu {
namespace {

// The state of one Targets decode: the entry it looks for and what it found.
struct EntrySearch {
  const char* name;
  bool found = false;
  fedtiny_v1_TargetInfo info = fedtiny_v1_TargetInfo_init_zero;
};

// One map entry of Targets.targets at a time; only the named one is kept.
bool DecodeEntry(pb_istream_t* stream, const pb_field_t*, void** arg) {
  auto* search = static_cast<EntrySearch*>(*arg);
  fedtiny_v1_Targets_TargetsEntry entry = fedtiny_v1_Targets_TargetsEntry_init_zero;
  if (!pb_decode(stream, fedtiny_v1_Targets_TargetsEntry_fields, &entry)) return false;
  if (std::strcmp(entry.key, search->name) == 0 && entry.has_value) {
    search->info = entry.value;
    search->found = true;
  }
  return true;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

const char* VerifyTargets(const client::SignatureVerifier& verifier, const fedtiny_v1_Signed& signed_targets,
                          const TrustedKey& key, const char* target_name, uint64_t min_version,
                          SignedTarget* out) {
  const fedtiny_v1_Signature* mine = nullptr;
  for (pb_size_t i = 0; i < signed_targets.signatures_count; ++i) {
    if (key.key_id == signed_targets.signatures[i].key_id) mine = &signed_targets.signatures[i];
  }
  if (mine == nullptr) return "trust:key_id";
  const std::string_view role(reinterpret_cast<const char*>(signed_targets.role_bytes.bytes),
                              signed_targets.role_bytes.size);
  const std::string_view signature(reinterpret_cast<const char*>(mine->signature.bytes),
                                   mine->signature.size);
  if (!verifier.VerifyEcdsaP256Sha256(key.spki_der, role, signature).ok()) return "trust:signature";
  // Only now, authenticated, are the role's bytes parsed.
  EntrySearch search{target_name};
  fedtiny_v1_Targets targets = fedtiny_v1_Targets_init_zero;
  targets.targets.funcs.decode = DecodeEntry;
  targets.targets.arg = &search;
  pb_istream_t in = pb_istream_from_buffer(signed_targets.role_bytes.bytes, signed_targets.role_bytes.size);
  if (!pb_decode(&in, fedtiny_v1_Targets_fields, &targets)) return "trust:decode";
  if (targets.type != fedtiny_v1_RoleType_ROLE_TYPE_TARGETS) return "trust:role";
  if (targets.version < min_version) return "trust:rollback";
  if (!search.found || search.info.sha256.size != sizeof(out->sha256)) return "trust:no_target";
  out->targets_version = targets.version;
  out->length = search.info.length;
  std::memcpy(out->sha256, search.info.sha256.bytes, sizeof(out->sha256));
  return nullptr;
}

size_t ParseHex(std::string_view hex, uint8_t* out, size_t capacity) {
  if (hex.empty() || hex.size() % 2 != 0 || hex.size() / 2 > capacity) return 0;
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = HexDigit(hex[i]), lo = HexDigit(hex[i + 1]);
    if (hi < 0 || lo < 0) return 0;
    out[i / 2] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return hex.size() / 2;
}

}  // namespace fedtiny::mcu
