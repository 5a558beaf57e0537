/* Mbed TLS 2.28's configuration for the Cortex-M device crypto
 * (client/platform/cortex_m, MBEDTLS_CONFIG_FILE): what issue #13's model trust
 * needs on a microcontroller and nothing else. No networking, file system,
 * threads, entropy source or PEM: keys arrive as DER, randomness (for ECDH's
 * blinding) from the port's TRNG or mbedTLS's internal DRBG seeded from the
 * secret scalar.
 *
 *   ECDSA P-256 verify   the director's targets metadata (Uptane partial
 *                        verification), SubjectPublicKeyInfo DER keys
 *   ECDH P-256           a key agreement with the server
 *   P-256 key generation the device's enrolled key (CTR_DRBG, PK write)
 *   HKDF-SHA256          keys from the shared secret
 *   AES-256-GCM          an encrypted model bundle
 *   SHA-256              the bundle's hash, client::Crypto
 */
#ifndef FEDTINY_CLIENT_PLATFORM_CORTEX_M_MBEDTLS_CONFIG_H_
#define FEDTINY_CLIENT_PLATFORM_CORTEX_M_MBEDTLS_CONFIG_H_

/* bn_mul.h's inline assembly (UMAAL on Armv7E-M, x86-64 on the host). */
#define MBEDTLS_HAVE_ASM

/* Big numbers and the one curve. */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
/* P-256's fast modular reduction (ecp_curves.c). */
#define MBEDTLS_ECP_NIST_OPTIM
/* RAM over speed, as mbedTLS's configs/config-suite-b.h: a comb window of 2
 * and no cached table for the base point (it would live on the heap). */
#define MBEDTLS_ECP_WINDOW_SIZE 2
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0
/* ECP's internal DRBG (blinding when the caller passes no RNG) needs one. */
#define MBEDTLS_HMAC_DRBG_C
/* The device key's generation (p256_keys.h): a CTR_DRBG over the port's
 * entropy hook, and the public key written as a SubjectPublicKeyInfo. */
#define MBEDTLS_CTR_DRBG_C
#define MBEDTLS_PK_WRITE_C

#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECDH_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_OID_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C

#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_HKDF_C

#define MBEDTLS_CIPHER_C
#define MBEDTLS_AES_C
#define MBEDTLS_GCM_C
/* AES's tables in flash (const), not built in RAM at first use. */
#define MBEDTLS_AES_ROM_TABLES

#include "mbedtls/check_config.h"

#endif /* FEDTINY_CLIENT_PLATFORM_CORTEX_M_MBEDTLS_CONFIG_H_ */
