// The firmware's own P-256 key, to which the coordinator wraps model keys
// (issue #13, encrypted bundles; docs/security.md, "On microcontrollers").
//
// Made once, on the first boot, from the port's entropy hook through a
// CTR_DRBG (client/platform/cortex_m/p256_keys.h), and kept as one record in
// the board's key sector of flash (FlashStore::BoardKeySlot()): magic, the
// private scalar, the SubjectPublicKeyInfo, an "enrolled" word and a SHA-256
// over all of it. A reboot finds the record intact and neither makes a new key
// nor enrolls again. The scalar is read where it lies in flash for each ECDH
// and is never printed; a real part would keep it in read-protected flash, a
// TrustZone partition or a secure element (which would do the ECDH itself).
// On QEMU the flash is not kept between runs: each run is a first boot.
//
// Device code: no heap of its own (Mbed TLS's bignums aside). Not thread-safe.
// Borrows the key slot, which must outlive it.
#ifndef FEDTINY_TOOLS_CROSS_MCU_DEVICE_KEY_H_
#define FEDTINY_TOOLS_CROSS_MCU_DEVICE_KEY_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "client/platform/cortex_m/p256_keys.h"
#include "tools/cross/mcu/flash_store.h"

namespace fedtiny::mcu {

class DeviceKey {
 public:
  // LoadOrCreate reads the key from `slot`, or, when the slot holds no intact
  // record, makes one with `rng` and programs it. nullptr or why not.
  static const char* LoadOrCreate(FlashStore& slot, client::RandomBytes rng, DeviceKey* out);

  // created says whether LoadOrCreate made the key (this is the first boot).
  bool created() const { return created_; }
  // enrolled says whether the coordinator accepted this key (MarkEnrolled).
  bool enrolled() const;
  // MarkEnrolled records in flash that the key is enrolled. nullptr or why not.
  const char* MarkEnrolled();

  // The DER SubjectPublicKeyInfo and its id (lower-case hex SHA-256, the
  // coordinator's KeyIdOfSpki).
  std::string_view spki() const;
  const char* key_id() const { return key_id_; }

  // SharedSecret is ECDH with `peer_point` (uncompressed), blinded by `rng`:
  // client::EcdhP256SharedSecret with this key's scalar.
  client::Status SharedSecret(std::string_view peer_point, uint8_t (&shared)[client::kP256ScalarBytes],
                              client::RandomBytes rng) const;

 private:
  struct Record;
  const Record* record() const;

  FlashStore* slot_ = nullptr;
  bool created_ = false;
  char key_id_[65] = {};
};

}  // namespace fedtiny::mcu

#endif  // FEDTINY_TOOLS_CROSS_MCU_DEVICE_KEY_H_
