#include "tools/cross/mcu/device_key.h"

#include <cstddef>
#include <cstring>

#include "mbedtls/platform_util.h"
#include "mbedtls/sha256.h"

namespace fedtiny::mcu {

// The record in flash. `enrolled` is kEnrolled or anything else (erased: not).
struct DeviceKey::Record {
  uint32_t magic;
  uint32_t enrolled;
  uint8_t private_key[client::kP256ScalarBytes];
  uint8_t spki[client::kP256SpkiBytes];
  uint8_t pad[1];
  uint8_t sha256[32];  // Over every field above.
};

namespace {

constexpr uint32_t kMagic = 0x314b5446;  // "FTK1"
constexpr uint32_t kEnrolled = 0x454e524c;

bool DigestOf(const void* record, size_t n, uint8_t (&out)[32]) {
  return mbedtls_sha256_ret(static_cast<const uint8_t*>(record), n, out, 0) == 0;
}

}  // namespace

const DeviceKey::Record* DeviceKey::record() const {
  return reinterpret_cast<const Record*>(slot_->data());
}

const char* DeviceKey::LoadOrCreate(FlashStore& slot, client::RandomBytes rng, DeviceKey* out) {
  static_assert(sizeof(Record) <= 4096, "the record fits the key sector");
  out->slot_ = &slot;
  const Record* r = out->record();
  uint8_t digest[32];
  const size_t covered = offsetof(Record, sha256);
  if (r->magic != kMagic || !DigestOf(r, covered, digest) ||
      std::memcmp(digest, r->sha256, sizeof(digest)) != 0) {
    Record fresh = {};
    fresh.magic = kMagic;
    fresh.enrolled = 0xffffffff;
    const client::Status s = client::GenerateP256Key(rng, fresh.private_key, fresh.spki);
    const bool ok = s.ok() && DigestOf(&fresh, covered, fresh.sha256) && slot.Erase(sizeof(fresh)) &&
                    slot.Program(0, reinterpret_cast<const uint8_t*>(&fresh), sizeof(fresh));
    mbedtls_platform_zeroize(&fresh, sizeof(fresh));
    if (!ok) return s.ok() ? "the key sector could not be programmed" : "no device key: no entropy";
    out->created_ = true;
  }
  uint8_t id[32];
  if (mbedtls_sha256_ret(r->spki, sizeof(r->spki), id, 0) != 0) return "SHA-256 failed";
  static const char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < sizeof(id); ++i) {
    out->key_id_[2 * i] = kHex[id[i] >> 4];
    out->key_id_[2 * i + 1] = kHex[id[i] & 0xf];
  }
  return nullptr;
}

bool DeviceKey::enrolled() const { return record()->enrolled == kEnrolled; }

const char* DeviceKey::MarkEnrolled() {
  // Erased flash programs one way only, so the sector is rewritten whole; the
  // copy in RAM is wiped at once.
  Record copy;
  std::memcpy(&copy, record(), sizeof(copy));
  copy.enrolled = kEnrolled;
  const bool ok = DigestOf(&copy, offsetof(Record, sha256), copy.sha256) && slot_->Erase(sizeof(copy)) &&
                  slot_->Program(0, reinterpret_cast<const uint8_t*>(&copy), sizeof(copy));
  mbedtls_platform_zeroize(&copy, sizeof(copy));
  return ok ? nullptr : "the key sector could not be programmed";
}

std::string_view DeviceKey::spki() const {
  return {reinterpret_cast<const char*>(record()->spki), sizeof(record()->spki)};
}

client::Status DeviceKey::SharedSecret(std::string_view peer_point,
                                       uint8_t (&shared)[client::kP256ScalarBytes],
                                       client::RandomBytes rng) const {
  return client::EcdhP256SharedSecret(record()->private_key, peer_point, shared, rng);
}

}  // namespace fedtiny::mcu
