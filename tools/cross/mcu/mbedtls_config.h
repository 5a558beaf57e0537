/* Mbed TLS 2.28's configuration for the Cortex-M firmware (MBEDTLS_CONFIG_FILE):
 * SHA-256 only, the one primitive the device needs (a model bundle's hash). */
#ifndef FEDTINY_TOOLS_CROSS_MCU_MBEDTLS_CONFIG_H_
#define FEDTINY_TOOLS_CROSS_MCU_MBEDTLS_CONFIG_H_

#define MBEDTLS_SHA256_C
/* Smaller code (one round function in a loop) at some speed. */
#define MBEDTLS_SHA256_SMALLER

#include "mbedtls/check_config.h"

#endif /* FEDTINY_TOOLS_CROSS_MCU_MBEDTLS_CONFIG_H_ */
