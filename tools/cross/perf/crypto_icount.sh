#!/usr/bin/env bash
# Instruction counts and sizes of the device's cryptography (client/platform/
# cortex_m over Mbed TLS 2.28 from Debian's source package) on Cortex-M4F,
# Cortex-M4 without FPU (soft float) and Cortex-M7, under QEMU's -icount
# (perf/crypto_icount_perf.cc says what is measured). Prints two Markdown tables
# (instructions; Cortex-M4F sizes and RAM); with --write, also puts them into
# docs/security.md and docs/benchmarks.md between <!-- crypto_icount:begin -->
# and <!-- crypto_icount:end -->; with --check, fails when those sections
# differ from a fresh run.
#   tools/cross/perf/crypto_icount.sh [--write|--check] [--build-dir DIR]
set -euo pipefail
source "$(dirname "$0")/../cmake_targets.sh"
ROOT="$(cd "$CROSS_DIR/../.." && pwd)"
cross_doc_args "$@"

TARGETS=(cortex-m4 cortex-m4-nofpu cortex-m7)
cross_build cortex-m4 "$work" crypto_icount_perf trust_selftest &
cross_build cortex-m4-nofpu "$work" crypto_icount_perf & wait
cross_build cortex-m7 "$work" crypto_icount_perf
for t in "${TARGETS[@]}"; do
  cross_run "$t" "$work/$t/crypto_icount_perf.elf" >"$work/$t.out" 2>"$work/$t.err" \
    || { cat "$work/$t.out" "$work/$t.err" >&2; cross_die "crypto_icount_perf failed on $t"; }
done
cross_run cortex-m4 "$work/cortex-m4/trust_selftest.elf" >"$work/trust.out" 2>"$work/trust.err" \
  || { cat "$work/trust.out" "$work/trust.err" >&2; cross_die "trust_selftest failed on cortex-m4"; }

m() { awk -v k="$2" '$1 == "m" && $2 == k { print $3 }' "$work/$1.out"; }
# Rounded to 100 instructions (the SysTick resolves 40 per measurement), with commas.
fmt() { awk -v n="$1" 'BEGIN { s = sprintf("%d", int(n / 100 + 0.5) * 100); out = "";
  while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
  print s out }'; }
# text data bss summed over an archive's objects.
tdb() { arm-none-eabi-size -t "$1" | awk 'END { print $1, $2, $3 }'; }
# text data bss of what the linker kept from archive $2 in the program whose
# map is $1 (input sections: .text*/.rodata* text, .data* data, .bss*/COMMON bss).
linked() {
  python3 - "$1" "$2" <<'PY'
import re, sys
text = data = bss = 0
lines = open(sys.argv[1]).read().split("\n")
disc = lines.index("Discarded input sections") if "Discarded input sections" in lines else -1
memmap = next(i for i, l in enumerate(lines) if l.startswith("Linker script and memory map"))
pending = None
for line in lines[memmap:]:
    m = re.match(r"^ (\.\S+|COMMON)(?:\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S+))?\s*$", line)
    if m and m.group(2) is None:
        pending = m.group(1); continue
    if m:
        name, size, obj = m.group(1), int(m.group(3), 16), m.group(4)
    else:
        m2 = re.match(r"^\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S+)\s*$", line)
        if not (pending and m2):
            pending = None; continue
        name, size, obj = pending, int(m2.group(2), 16), m2.group(3)
    pending = None
    if sys.argv[2] not in obj:
        continue
    if name.startswith((".text", ".rodata")): text += size
    elif name.startswith(".data"): data += size
    elif name.startswith((".bss", "COMMON")): bss += size
print(text, data, bss)
PY
}

table() {
  echo "| operation (instructions, QEMU 7.2 \`-icount shift=0\`) | Cortex-M4F (hard float) | Cortex-M4, no FPU (soft float) | Cortex-M7 (hard float) |"
  echo "| --- | ---: | ---: | ---: |"
  local row key
  for row in "ECDSA P-256 verify (\`EcdsaP256Verify\`: SPKI parse, SHA-256 of 600 bytes, verify):ecdsa_p256_verify" \
             "ECDH P-256 shared secret (\`EcdhP256SharedSecret\`):ecdh_p256" \
             "HKDF-SHA256, 32 bytes out:hkdf_sha256_32" \
             "SHA-256 of 64 KiB (\`MbedTlsCrypto::Sha256\`):sha256_64k" \
             "AES-256-GCM decrypt of 64 KiB, 23 bytes AAD (\`Aes256GcmDecrypt\`):aes256_gcm_decrypt_64k" \
             "P-256 key generation (\`GenerateP256Key\` over a seeded \`CtrDrbg\`: the MCU's device key):p256_keygen" \
             "Model key unwrap (the MCU's \`UnwrapModelKey\` less its nanopb decode: SPKI to point, blinded ECDH, HKDF, AES-256-GCM of 32 bytes):unwrap_model_key"; do
    key=${row##*:}
    printf "| %s | %s | %s | %s |\n" "${row%:*}" "$(fmt "$(m cortex-m4 "$key")")" \
      "$(fmt "$(m cortex-m4-nofpu "$key")")" "$(fmt "$(m cortex-m7 "$key")")"
  done
  echo
  local b="$work/cortex-m4" text data bss heap stack
  echo "| Cortex-M4F | text | data | bss |"
  echo "| --- | ---: | ---: | ---: |"
  read -r text data bss < <(tdb "$b/cortex_m/libfedtiny_mbedtls.a")
  echo "| Mbed TLS, every module mbedtls_config.h enables (all objects of \`libfedtiny_mbedtls.a\`) | $text | $data | $bss |"
  read -r text data bss < <(linked "$b/crypto_icount_perf.map" libfedtiny_mbedtls.a)
  echo "| Mbed TLS as linked into \`crypto_icount_perf\` (all seven operations; from its link map) | $text | $data | $bss |"
  read -r text data bss < <(tdb "$b/cortex_m/libfedtiny_cortex_m_crypto.a")
  echo "| client/platform/cortex_m's wrappers (\`libfedtiny_cortex_m_crypto.a\`) | $text | $data | $bss |"
  read -r heap stack < <(awk '$1 == "fedtiny-ram:" { print $3, $5 }' "$work/trust.err")
  echo
  echo "RAM at run time (\`trust_selftest\` on Cortex-M4F, every operation and its refusals):" \
       "heap high-water $heap bytes (Mbed TLS's bignums and the test's copies), stack high-water $stack bytes."
  echo
  echo "Measured by \`tools/cross/perf/crypto_icount.sh\` (\`tools/cross/perf/crypto_icount_perf.cc\`," \
       "arm-none-eabi-gcc $(arm-none-eabi-gcc -dumpversion), -O2, Mbed TLS 2.28 with" \
       "\`client/platform/cortex_m/mbedtls_config.h\`: comb window 2, no cached base-point table," \
       "AES tables in flash); QEMU counts instructions, not cycles. Bytes: text = code + read-only" \
       "data (flash), data + bss = static RAM."
}
table >"$work/table.md"
cat "$work/table.md"
grep -h '^# ' "$work"/cortex-m*.out | sed 's/^# /  /' >&2
case $mode in
  --write) for doc in docs/security.md docs/benchmarks.md; do
             python3 "$CROSS_DIR/doc_section.py" "$ROOT/$doc" crypto_icount <"$work/table.md"; done ;;
  --check) for doc in docs/security.md docs/benchmarks.md; do
             python3 "$CROSS_DIR/doc_section.py" "$ROOT/$doc" crypto_icount --check <"$work/table.md"; done ;;
esac
