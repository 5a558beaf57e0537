#include "client/platform/cortex_m/device_crypto.h"

#include <cstring>
#include <string>

#include "mbedtls/ecdh.h"
#include "mbedtls/ecp.h"
#include "mbedtls/gcm.h"
#include "mbedtls/hkdf.h"
#include "mbedtls/md.h"
#include "mbedtls/pk.h"
#include "mbedtls/sha256.h"

namespace fedtiny::client {
namespace {

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Status Unauthenticated(std::string m) {
  return Status(StatusCode::kUnauthenticated, std::move(m));
}

std::string MbedError(const char* what, int rc) {
  return std::string(what) + " failed: Mbed TLS error -0x" + [rc] {
    static const char kHex[] = "0123456789abcdef";
    std::string h;
    for (unsigned v = static_cast<unsigned>(-rc); v != 0 || h.empty();
         v >>= 4) {
      h.insert(h.begin(), kHex[v & 0xf]);
    }
    return h;
  }();
}

// Owners of Mbed TLS contexts: freed (and wiped, Mbed TLS's free zeroizes) on
// every return.
struct Pk {
  Pk() { mbedtls_pk_init(&ctx); }
  ~Pk() { mbedtls_pk_free(&ctx); }
  mbedtls_pk_context ctx;
};
struct EcPoint {
  EcPoint() { mbedtls_ecp_point_init(&p); }
  ~EcPoint() { mbedtls_ecp_point_free(&p); }
  mbedtls_ecp_point p;
};
struct EcGroup {
  EcGroup() { mbedtls_ecp_group_init(&g); }
  ~EcGroup() { mbedtls_ecp_group_free(&g); }
  mbedtls_ecp_group g;
};
struct Mpi {
  Mpi() { mbedtls_mpi_init(&m); }
  ~Mpi() { mbedtls_mpi_free(&m); }
  mbedtls_mpi m;
};
struct Gcm {
  Gcm() { mbedtls_gcm_init(&ctx); }
  ~Gcm() { mbedtls_gcm_free(&ctx); }
  mbedtls_gcm_context ctx;
};

}  // namespace

Status EcdsaP256Verify(std::string_view spki_der, std::string_view message,
                       std::string_view der_signature) {
  Pk key;
  int rc =
      mbedtls_pk_parse_public_key(&key.ctx, Bytes(spki_der), spki_der.size());
  if (rc != 0)
    return InvalidArgumentError(MbedError("parsing the public key", rc));
  if (!mbedtls_pk_can_do(&key.ctx, MBEDTLS_PK_ECDSA) ||
      mbedtls_pk_ec(key.ctx)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
    return InvalidArgumentError("the public key is not an ECDSA P-256 key");
  }
  unsigned char hash[32];
  rc = mbedtls_sha256_ret(Bytes(message), message.size(), hash, /*is224=*/0);
  if (rc != 0) return InternalError(MbedError("SHA-256", rc));
  rc = mbedtls_pk_verify(&key.ctx, MBEDTLS_MD_SHA256, hash, sizeof(hash),
                         Bytes(der_signature), der_signature.size());
  if (rc != 0)
    return Unauthenticated(MbedError("ECDSA P-256 verification", rc));
  return OkStatus();
}

Status EcdhP256SharedSecret(const uint8_t (&private_key)[kP256ScalarBytes],
                            std::string_view peer_public,
                            uint8_t (&shared)[kP256ScalarBytes],
                            RandomBytes rng) {
  EcGroup group;
  EcPoint peer;
  Mpi d, z;
  int rc = mbedtls_ecp_group_load(&group.g, MBEDTLS_ECP_DP_SECP256R1);
  if (rc != 0) return InternalError(MbedError("loading P-256", rc));
  if (peer_public.size() != kP256PointBytes ||
      mbedtls_ecp_point_read_binary(&group.g, &peer.p, Bytes(peer_public),
                                    peer_public.size()) != 0 ||
      mbedtls_ecp_check_pubkey(&group.g, &peer.p) != 0) {
    return InvalidArgumentError(
        "the peer's public key is not an uncompressed P-256 point");
  }
  if (mbedtls_mpi_read_binary(&d.m, private_key, kP256ScalarBytes) != 0 ||
      mbedtls_ecp_check_privkey(&group.g, &d.m) != 0) {
    return InvalidArgumentError("the private key is out of range for P-256");
  }
  rc = mbedtls_ecdh_compute_shared(&group.g, &z.m, &peer.p, &d.m, rng.fill,
                                   rng.context);
  if (rc != 0) return InternalError(MbedError("ECDH", rc));
  rc = mbedtls_mpi_write_binary(&z.m, shared, kP256ScalarBytes);
  if (rc != 0) return InternalError(MbedError("writing the shared secret", rc));
  return OkStatus();
}

Status HkdfSha256(std::string_view salt, std::string_view ikm,
                  std::string_view info, Span<uint8_t> okm) {
  if (okm.size() > 255 * 32)
    return InvalidArgumentError("HKDF-SHA256 gives at most 8160 bytes");
  const int rc = mbedtls_hkdf(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                              Bytes(salt), salt.size(), Bytes(ikm), ikm.size(),
                              Bytes(info), info.size(), okm.data(), okm.size());
  if (rc != 0) return InternalError(MbedError("HKDF-SHA256", rc));
  return OkStatus();
}

Status Aes256GcmDecrypt(std::string_view key, std::string_view iv,
                        std::string_view aad, std::string_view ciphertext,
                        std::string_view tag, Span<uint8_t> plaintext) {
  if (key.size() != kAes256KeyBytes || iv.size() != kGcmIvBytes ||
      tag.size() != kGcmTagBytes) {
    return InvalidArgumentError(
        "AES-256-GCM takes a 32-byte key, 12-byte IV and 16-byte tag");
  }
  if (plaintext.size() < ciphertext.size()) {
    return InvalidArgumentError(
        "the plaintext buffer is shorter than the ciphertext");
  }
  Gcm gcm;
  int rc = mbedtls_gcm_setkey(&gcm.ctx, MBEDTLS_CIPHER_ID_AES, Bytes(key), 256);
  if (rc != 0) return InternalError(MbedError("AES-256-GCM key setup", rc));
  rc = mbedtls_gcm_auth_decrypt(
      &gcm.ctx, ciphertext.size(), Bytes(iv), iv.size(), Bytes(aad), aad.size(),
      Bytes(tag), tag.size(), Bytes(ciphertext), plaintext.data());
  if (rc == MBEDTLS_ERR_GCM_AUTH_FAILED) {
    return Unauthenticated("AES-256-GCM: the tag does not match");
  }
  if (rc != 0) return InternalError(MbedError("AES-256-GCM decryption", rc));
  return OkStatus();
}

}  // namespace fedtiny::client
