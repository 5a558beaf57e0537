#include "tools/cross/mcu/board_entropy.h"

#include <cstring>
#include <ctime>

#include "mbedtls/platform_util.h"
#include "mbedtls/sha256.h"
#include "tools/cross/mcu/targets_check.h"

namespace fedtiny::mcu {
namespace {

int Fill(void*, unsigned char* out, size_t size) {
#ifdef FEDTINY_MCU_ENTROPY_SEED
  static uint32_t counter = 0;
  static const time_t boot_time = time(nullptr);  // Host clock (semihosting).
  static const clock_t boot_clock = clock();
  uint8_t seed[32];
  if (ParseHex(FEDTINY_MCU_ENTROPY_SEED, seed, sizeof(seed)) != sizeof(seed)) return -1;
  while (size > 0) {
    uint8_t block[32];
    mbedtls_sha256_context sha;
    mbedtls_sha256_init(&sha);
    ++counter;
    const bool ok = mbedtls_sha256_starts_ret(&sha, 0) == 0 &&
                    mbedtls_sha256_update_ret(&sha, seed, sizeof(seed)) == 0 &&
                    mbedtls_sha256_update_ret(&sha, reinterpret_cast<const uint8_t*>(&boot_time),
                                              sizeof(boot_time)) == 0 &&
                    mbedtls_sha256_update_ret(&sha, reinterpret_cast<const uint8_t*>(&boot_clock),
                                              sizeof(boot_clock)) == 0 &&
                    mbedtls_sha256_update_ret(&sha, reinterpret_cast<const uint8_t*>(&counter),
                                              sizeof(counter)) == 0 &&
                    mbedtls_sha256_finish_ret(&sha, block) == 0;
    mbedtls_sha256_free(&sha);
    if (!ok) break;
    const size_t n = size < sizeof(block) ? size : sizeof(block);
    std::memcpy(out, block, n);
    mbedtls_platform_zeroize(block, sizeof(block));
    out += n;
    size -= n;
  }
  mbedtls_platform_zeroize(seed, sizeof(seed));
  return size == 0 ? 0 : -1;
#else
  (void)out;
  (void)size;
  return -1;  // No provisioned seed, no TRNG: no entropy.
#endif
}

}  // namespace

client::RandomBytes BoardEntropy() { return {Fill, nullptr}; }

}  // namespace fedtiny::mcu
