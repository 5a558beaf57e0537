#include "client/platform/cortex_m/p256_keys.h"

#include <cstring>

#include "mbedtls/ecp.h"
#include "mbedtls/pk.h"
#include "mbedtls/platform_util.h"

namespace fedtiny::client {
namespace {

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Frees (and so wipes: Mbed TLS's free zeroizes) on every return.
struct Pk {
  Pk() { mbedtls_pk_init(&ctx); }
  ~Pk() { mbedtls_pk_free(&ctx); }
  mbedtls_pk_context ctx;
};

// Mbed TLS's f_entropy shape over a RandomBytes.
int Entropy(void* hook, unsigned char* out, size_t n) {
  const RandomBytes* r = static_cast<const RandomBytes*>(hook);
  return r->fill == nullptr ? -1 : r->fill(r->context, out, n);
}

}  // namespace

CtrDrbg::CtrDrbg() { mbedtls_ctr_drbg_init(&ctx_); }
CtrDrbg::~CtrDrbg() { mbedtls_ctr_drbg_free(&ctx_); }

Status CtrDrbg::Seed(RandomBytes entropy, std::string_view personalization) {
  entropy_ = entropy;
  const int rc = mbedtls_ctr_drbg_seed(&ctx_, Entropy, &entropy_, Bytes(personalization),
                                       personalization.size());
  if (rc != 0) return InternalError("CTR_DRBG: the entropy hook failed");
  return OkStatus();
}

RandomBytes CtrDrbg::rng() { return {mbedtls_ctr_drbg_random, &ctx_}; }

Status GenerateP256Key(RandomBytes rng, uint8_t (&private_key)[kP256ScalarBytes],
                       uint8_t (&spki)[kP256SpkiBytes]) {
  if (rng.fill == nullptr) return InvalidArgumentError("no random source");
  Pk key;
  if (mbedtls_pk_setup(&key.ctx, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
      mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key.ctx), rng.fill,
                          rng.context) != 0) {
    return InternalError("generating a P-256 key failed");
  }
  // pk_write writes at the end of the buffer and returns the length.
  unsigned char der[128];
  const int n = mbedtls_pk_write_pubkey_der(&key.ctx, der, sizeof(der));
  if (n != static_cast<int>(kP256SpkiBytes)) return InternalError("writing the public key failed");
  std::memcpy(spki, der + sizeof(der) - n, kP256SpkiBytes);
  if (mbedtls_mpi_write_binary(&mbedtls_pk_ec(key.ctx)->d, private_key, kP256ScalarBytes) != 0) {
    mbedtls_platform_zeroize(private_key, kP256ScalarBytes);
    return InternalError("writing the private key failed");
  }
  return OkStatus();
}

Status P256PointOfSpki(std::string_view spki_der, uint8_t (&point)[kP256PointBytes]) {
  Pk key;
  if (mbedtls_pk_parse_public_key(&key.ctx, Bytes(spki_der), spki_der.size()) != 0 ||
      !mbedtls_pk_can_do(&key.ctx, MBEDTLS_PK_ECKEY) ||
      mbedtls_pk_ec(key.ctx)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
    return InvalidArgumentError("not a P-256 SubjectPublicKeyInfo");
  }
  const mbedtls_ecp_keypair* ec = mbedtls_pk_ec(key.ctx);
  size_t written = 0;
  if (mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &written, point,
                                     kP256PointBytes) != 0 ||
      written != kP256PointBytes) {
    return InvalidArgumentError("not an uncompressed P-256 point");
  }
  return OkStatus();
}

}  // namespace fedtiny::client
