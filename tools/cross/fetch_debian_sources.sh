#!/usr/bin/env bash
# Fetches the Debian source packages whose C code the Cortex-M firmware compiles
# (tools/cross/mcu/): a library needed on a microcontroller is built from its
# Debian source package, since the binary packages ship no sources for it.
#   nanopb   pb_encode.c, pb_decode.c, pb_common.c (the runtime)
#   mbedtls  library/sha256.c (the model bundle's SHA-256); the P-256, AES-GCM and
#            HKDF modules of client/platform/cortex_m (tools/cross/CMakeLists.txt)
#   zlib     crc32.c (the device link's frame CRC, client/gateway/frame.h)
# Each lands in ${FEDTINY_DEBSRC:-$HOME/.cache/fedtiny/debsrc}/<package>-<version>
# (apt-get source's own directory name), where tools/cross/mcu/CMakeLists.txt
# looks. Idempotent: a package already there is not fetched again. Needs root (or
# password-less sudo) only to add the deb-src entry the first time.
# Called by tools/setup.
set -euo pipefail

PACKAGES=(nanopb mbedtls zlib)
DEST="${FEDTINY_DEBSRC:-${HOME}/.cache/fedtiny/debsrc}"
LIST=/etc/apt/sources.list.d/fedtiny-src.sources

say() { echo "fetch_debian_sources: $*" >&2; }
die() { say "error: $*"; exit 1; }

have() {  # package: its unpacked source is in $DEST
  compgen -G "$DEST/$1-[0-9]*/debian/control" >/dev/null
}

missing=()
for p in "${PACKAGES[@]}"; do have "$p" || missing+=("$p"); done
if [[ ${#missing[@]} -eq 0 ]]; then
  say "all ${#PACKAGES[@]} source packages present in $DEST"
  exit 0
fi

SUDO=()
if [[ "$(id -u)" != 0 ]] && command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
fi
command -v dpkg-source >/dev/null || die "dpkg-source not found: apt-get source needs dpkg-dev (tools/setup installs it)"

if [[ ! -f "$LIST" ]]; then
  [[ "$(id -u)" == 0 || ${#SUDO[@]} -gt 0 ]] || die "adding $LIST needs root (or password-less sudo)"
  say "adding the deb-src entry $LIST"
  printf '%s\n' "Types: deb-src" "URIs: http://deb.debian.org/debian" \
    "Suites: bookworm bookworm-updates" "Components: main" \
    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" \
    | "${SUDO[@]}" tee "$LIST" >/dev/null
  "${SUDO[@]}" apt-get update -q >/tmp/fedtiny-apt-update-src.log 2>&1 \
    || die "apt-get update failed (log: /tmp/fedtiny-apt-update-src.log)"
fi

mkdir -p "$DEST"
for p in "${missing[@]}"; do
  say "apt-get source $p -> $DEST"
  log="/tmp/fedtiny-apt-source-$p.log"
  if ! (cd "$DEST" && apt-get source -q "$p" >"$log" 2>&1); then
    # The package lists may predate the deb-src entry: update once and retry.
    "${SUDO[@]}" apt-get update -q >/tmp/fedtiny-apt-update-src.log 2>&1 || true
    (cd "$DEST" && apt-get source -q "$p" >"$log" 2>&1) \
      || { tail -5 "$log" >&2; die "apt-get source $p failed (log: $log)"; }
  fi
  have "$p" || die "apt-get source $p left no $DEST/$p-<version>/ (log: $log)"
  rm -f "$DEST"/"$p"_*.dsc "$DEST"/"$p"_*.tar.* "$DEST"/"$p"_*.diff.gz
done
say "source packages in $DEST: $(cd "$DEST" && echo */ | tr -d /)"
