#!/usr/bin/env python3
"""Writes tools/cross/trust_vectors.h: OpenSSL-made inputs for trust_selftest.cc
and perf/icount_perf.cc (client/platform/cortex_m's Mbed TLS code must accept
what the server's OpenSSL makes).

Usage: tools/cross/make_trust_vectors.py > tools/cross/trust_vectors.h

  ECDSA P-256   `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`,
                the key's SubjectPublicKeyInfo DER (`openssl pkey -pubout -outform
                DER`), a DER signature over SHA-256 (`openssl dgst -sha256 -sign`)
                and a second key that must not verify it
  ECDH P-256    two keys as above; A's private scalar (`openssl ec -outform DER`),
                B's uncompressed point and `openssl pkeyutl -derive`'s secret
  AES-256-GCM   the openssl CLI has no AEAD mode (`openssl enc` refuses GCM), so
                the ciphertext and tag come from pyca/cryptography's AESGCM, which
                is OpenSSL's EVP underneath; key and IV from `openssl rand`

The header is committed, not made at build time: ECDSA signatures are
randomised, and perf/icount.sh --check needs the same inputs on every run.
"""
import os
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout


def new_key(tmp, name):
    path = os.path.join(tmp, name + ".pem")
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", path)
    return path


def spki(path):
    der = openssl("pkey", "-in", path, "-pubout", "-outform", "DER")
    assert len(der) == 91 and der[-65] == 4, "a P-256 SubjectPublicKeyInfo"
    return der


def private_scalar(path):
    der = openssl("ec", "-in", path, "-outform", "DER")
    # SEC1 ECPrivateKey: 30 77 02 01 01 04 20 <32-byte scalar> ...
    assert der[:7] == bytes.fromhex("30770201010420"), der[:7].hex()
    return der[7:39]


def array(name, data):
    rows = [", ".join(f"0x{b:02x}" for b in data[i:i + 12]) for i in range(0, len(data), 12)]
    body = ",\n    ".join(rows)
    return f"inline constexpr unsigned char {name}[] = {{\n    {body}}};\n"


def main():
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        signer, other = new_key(tmp, "signer"), new_key(tmp, "other")
        # A stand-in for the director's targets metadata (proto/trust.proto's role_bytes).
        message = bytes((i * 37 + 11) & 0xff for i in range(600))
        msg_path = os.path.join(tmp, "message")
        open(msg_path, "wb").write(message)
        signature = openssl("dgst", "-sha256", "-sign", signer, msg_path)
        out += [array("kEcdsaSpki", spki(signer)), array("kEcdsaOtherSpki", spki(other)),
                array("kEcdsaMessage", message), array("kEcdsaSignature", signature)]

        a, b = new_key(tmp, "a"), new_key(tmp, "b")
        b_pub = os.path.join(tmp, "b_pub.pem")
        openssl("pkey", "-in", b, "-pubout", "-out", b_pub)
        shared = openssl("pkeyutl", "-derive", "-inkey", a, "-peerkey", b_pub)
        assert len(shared) == 32
        out += [array("kEcdhPrivateA", private_scalar(a)), array("kEcdhPublicB", spki(b)[-65:]),
                array("kEcdhShared", shared)]

    key, iv = openssl("rand", "32"), openssl("rand", "12")
    aad = b"fedtiny model bundle v1"
    plaintext = bytes((i * 13 + 7) & 0xff for i in range(1000))
    sealed = AESGCM(key).encrypt(iv, plaintext, aad)
    out += [array("kGcmKey", key), array("kGcmIv", iv), array("kGcmAad", aad),
            array("kGcmPlaintext", plaintext), array("kGcmCiphertext", sealed[:-16]),
            array("kGcmTag", sealed[-16:])]

    sys.stdout.write(
        "// OpenSSL-made test vectors for client/platform/cortex_m (Mbed TLS): written by\n"
        "// tools/cross/make_trust_vectors.py with " + " ".join(openssl("version").decode().split()[:2]) + ",\n"
        "// which says how each was made. Committed so that every run (and\n"
        "// tools/cross/perf/icount.sh --check) sees the same inputs.\n"
        "#ifndef FEDTINY_TOOLS_CROSS_TRUST_VECTORS_H_\n"
        "#define FEDTINY_TOOLS_CROSS_TRUST_VECTORS_H_\n\n"
        "namespace fedtiny::trust_vectors {\n\n" + "\n".join(out) +
        "\n}  // namespace fedtiny::trust_vectors\n\n"
        "#endif  // FEDTINY_TOOLS_CROSS_TRUST_VECTORS_H_\n")


if __name__ == "__main__":
    main()
