#!/usr/bin/env bash
# Builds tools/cross's programs with CMake for the host, aarch64 Linux (static,
# run with qemu-aarch64) and bare-metal Cortex-M4F / Cortex-M4 without FPU (soft
# float) / Cortex-M7 (run with
# qemu-system-arm on the mps2-an386 / mps2-an500 boards, semihosting), and requires
# every target's selftest output to match the host's (compare_outputs.py), and
# exit_status to exit 42 everywhere. Prints build times, run times, sizes and the
# exact QEMU command lines. trust_selftest checks client/platform/cortex_m's Mbed
# TLS crypto (built from Debian's source package) against OpenSSL-made inputs on
# every target. A missing toolchain, QEMU or source package is a failure, never a skip.
#   bazel test //tools/cross:cross_targets_test        (builds in $TEST_TMPDIR)
#   tools/cross/cross_targets_test.sh                  (from a checkout; a temp dir)
set -euo pipefail

fail() { echo "cross_targets_test: FAIL: $*" >&2; exit 1; }
log() { echo "cross_targets_test: $*"; }

if [[ -n "${TEST_SRCDIR:-}" ]]; then
  ROOT="${TEST_SRCDIR}/${TEST_WORKSPACE:-__main__}"
  WORK="${TEST_TMPDIR}/cross"
else
  ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
  WORK="$(mktemp -d)"
  trap 'rm -rf "$WORK"' EXIT
fi
CROSS="$ROOT/tools/cross"
[[ -f "$CROSS/CMakeLists.txt" && -f "$ROOT/client/CMakeLists.txt" && -f "$ROOT/client/core/dense_kernels.cc" ]] \
  || fail "sources not found under $ROOT (the test's data)"
mkdir -p "$WORK"

need() {
  command -v "$1" >/dev/null 2>&1 || fail "'$1' not found: $2. Run tools/setup (Debian package $3)."
}
need cmake "CMake builds the cross targets" cmake
need ninja "CMake's generator here" ninja-build
need c++ "the host compiler" g++
need size "host binutils" binutils
need python3 "compare_outputs.py" python3
need aarch64-linux-gnu-g++ "the aarch64 Linux cross compiler" g++-aarch64-linux-gnu
need aarch64-linux-gnu-size "aarch64 binutils" binutils-aarch64-linux-gnu
need qemu-aarch64 "runs the aarch64 program" qemu-user
need arm-none-eabi-g++ "the Cortex-M cross compiler" gcc-arm-none-eabi
need arm-none-eabi-size "arm-none-eabi binutils" binutils-arm-none-eabi
need qemu-system-arm "runs the Cortex-M programs" qemu-system-arm
need timeout "bounds each run" coreutils
DEBSRC="${FEDTINY_DEBSRC:-${HOME}/.cache/fedtiny/debsrc}"
compgen -G "$DEBSRC/mbedtls-[0-9]*/library/ecdsa.c" >/dev/null \
  || fail "Debian's mbedtls source package not in $DEBSRC: run tools/setup (tools/cross/fetch_debian_sources.sh)"
[[ -f /usr/include/eigen3/Eigen/Core ]] || fail "Eigen headers missing: run tools/setup (libeigen3-dev)"
[[ -f /usr/lib/arm-none-eabi/newlib/thumb/v7e-m+fp/hard/librdimon_nano.a ]] \
  || fail "newlib-nano's librdimon for armv7e-m+fp/hard missing: run tools/setup (libnewlib-arm-none-eabi)"
[[ -f /usr/lib/arm-none-eabi/newlib/thumb/v7e-m/nofp/librdimon_nano.a ]] \
  || fail "newlib-nano's librdimon for armv7e-m/nofp (soft float) missing: run tools/setup (libnewlib-arm-none-eabi)"
echo 'int main(){}' | arm-none-eabi-g++ -x c++ -std=c++17 -mcpu=cortex-m4 -mthumb -mfloat-abi=hard \
  -mfpu=fpv4-sp-d16 -fsyntax-only -include vector - 2>/dev/null \
  || fail "arm-none-eabi has no libstdc++ headers: run tools/setup (libstdc++-arm-none-eabi-newlib)"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# name, toolchain file ("" for the host), binary suffix, size tool
TARGETS=(host aarch64 cortex-m4 cortex-m4-nofpu cortex-m7)
declare -A TOOLCHAIN=([host]="" [aarch64]=aarch64-linux-gnu.cmake [cortex-m4]=cortex-m4.cmake
                      [cortex-m4-nofpu]=cortex-m4-nofpu.cmake [cortex-m7]=cortex-m7.cmake)
declare -A SUFFIX=([host]="" [aarch64]="" [cortex-m4]=.elf [cortex-m4-nofpu]=.elf [cortex-m7]=.elf)
declare -A SIZE=([host]=size [aarch64]=aarch64-linux-gnu-size [cortex-m4]=arm-none-eabi-size
                 [cortex-m4-nofpu]=arm-none-eabi-size [cortex-m7]=arm-none-eabi-size)
declare -A MACHINE=([cortex-m4]=mps2-an386 [cortex-m4-nofpu]=mps2-an386 [cortex-m7]=mps2-an500)

build() {  # target: configure + build; output in $WORK/<target>.build.log
  local t=$1 start tc=()
  start=$(now)
  [[ -n "${TOOLCHAIN[$t]}" ]] && tc=(-DCMAKE_TOOLCHAIN_FILE="$CROSS/${TOOLCHAIN[$t]}")
  if cmake -S "$CROSS" -B "$WORK/$t" -G Ninja "${tc[@]}" -DFEDTINY_DEBSRC_DIR="$DEBSRC" >"$WORK/$t.build.log" 2>&1 \
      && cmake --build "$WORK/$t" -- -j1 >>"$WORK/$t.build.log" 2>&1; then
    echo "$(since "$start")" >"$WORK/$t.build.time"
  else
    echo "failed" >"$WORK/$t.build.time"
  fi
}

run() {  # target, program, output file: runs it with a 30 s bound; prints its status
  local t=$1 prog="$WORK/$1/$2${SUFFIX[$1]}" out=$3 cmd rc=0
  case $t in
    host) cmd=("$prog") ;;
    aarch64) cmd=(qemu-aarch64 "$prog") ;;
    *) cmd=(qemu-system-arm -M "${MACHINE[$t]}" -nographic
            -semihosting-config enable=on,target=native -kernel "$prog") ;;
  esac
  echo "${cmd[*]}" >"$out.cmd"
  timeout 30 "${cmd[@]}" >"$out" 2>"$out.err" </dev/null || rc=$?
  echo "$rc"
}

# Two at a time: two cores. Each build is a configure (serial) and a few compiles.
t0=$(now)
build host & build aarch64 & wait
build cortex-m4 & build cortex-m7 & wait
build cortex-m4-nofpu
log "built all five in $(since "$t0") s"
for t in "${TARGETS[@]}"; do
  if [[ "$(cat "$WORK/$t.build.time")" == failed ]]; then
    tail -30 "$WORK/$t.build.log" >&2
    fail "the $t build failed (log above)"
  fi
  log "build $t: $(cat "$WORK/$t.build.time") s (configure + compile + link)"
done

log "sizes (text = code + read-only data; data + bss = static RAM; heap and stack not included)"
for t in "${TARGETS[@]}"; do
  "${SIZE[$t]}" "$WORK/$t/selftest${SUFFIX[$t]}" "$WORK/$t/core_selftest${SUFFIX[$t]}" \
    "$WORK/$t/exit_status${SUFFIX[$t]}" "$WORK/$t/trust_selftest${SUFFIX[$t]}" \
    | sed "s|$WORK/||; s|^|  $t: |"
done
log "Cortex-M RAM: data + bss above, the main stack (64 KiB, tools/cross/mps2/mps2.ld) at the top" \
    "of the 4 MiB at 0x20000000, the heap (newlib _sbrk) in between"

failures=0
for t in "${TARGETS[@]}"; do
  start=$(now)
  rc=$(run "$t" selftest "$WORK/$t.out")
  secs=$(since "$start")
  log "run $t: $(cat "$WORK/$t.out.cmd" | sed "s|$WORK/||g")  -> status $rc in $secs s"
  sed -n 's/^# /    /p' "$WORK/$t.out" | grep -v '^    step [1-4]:'
  if [[ $rc == 124 ]]; then
    log "FAIL: $t selftest timed out after 30 s"; failures=$((failures + 1)); continue
  elif [[ $rc != 0 ]]; then
    cat "$WORK/$t.out.err" >&2
    log "FAIL: $t selftest exited with status $rc"; failures=$((failures + 1)); continue
  fi
  rc=$(run "$t" exit_status "$WORK/$t.exit.out")
  if [[ $rc != 42 ]]; then
    cat "$WORK/$t.exit.out" "$WORK/$t.exit.out.err" >&2
    log "FAIL: $t exit_status exited with $rc, not 42: a program's status does not reach the caller"
    failures=$((failures + 1))
  fi
  if [[ $t != host ]]; then
    python3 "$CROSS/compare_outputs.py" "$WORK/host.out" "$WORK/$t.out" "$t" \
      || { log "FAIL: $t's results differ from the host's"; failures=$((failures + 1)); }
  fi
  # client/core's own trainer: features, trained head, loss, accuracy; resumed
  # training checked on the target itself (core_selftest exits 1 otherwise).
  rc=$(run "$t" core_selftest "$WORK/$t.core.out")
  sed -n 's/^# /    /p' "$WORK/$t.core.out"
  if [[ $rc != 0 ]]; then
    cat "$WORK/$t.core.out" "$WORK/$t.core.out.err" | grep -v '^v ' >&2
    log "FAIL: $t core_selftest exited with status $rc"; failures=$((failures + 1))
  elif [[ $t != host ]]; then
    python3 "$CROSS/compare_outputs.py" "$WORK/host.core.out" "$WORK/$t.core.out" "$t (client/core)" \
      || { log "FAIL: $t's client/core results differ from the host's"; failures=$((failures + 1)); }
  fi
  # Mbed TLS (client/platform/cortex_m) against OpenSSL's signature, ciphertext
  # and ECDH secret (trust_vectors.h) and RFC 5869.
  rc=$(run "$t" trust_selftest "$WORK/$t.trust.out")
  sed -n 's/^# /    /p' "$WORK/$t.trust.out" | tail -1
  grep -h '^fedtiny-ram:' "$WORK/$t.trust.out.err" | sed 's/^/    trust_selftest /' || true
  if [[ $rc != 0 ]]; then
    cat "$WORK/$t.trust.out" "$WORK/$t.trust.out.err" >&2
    log "FAIL: $t trust_selftest exited with status $rc"; failures=$((failures + 1))
  fi
  # The C API's example (client/CMakeLists.txt) on the hosted targets.
  if [[ $t == host || $t == aarch64 ]]; then
    rc=$(run "$t" client/fedtiny_c_example "$WORK/$t.c_example.out")
    sed 's/^/    /' "$WORK/$t.c_example.out" | tail -3
    if [[ $rc != 0 ]]; then
      cat "$WORK/$t.c_example.out.err" >&2
      log "FAIL: $t's C API example exited with status $rc"; failures=$((failures + 1))
    fi
  fi
done
log "total $(since "$t0") s"
[[ $failures == 0 ]] || fail "$failures failure(s) above"
log "PASS: host, aarch64, cortex-m4, cortex-m4-nofpu and cortex-m7 agree (selftest and client/core's trainer);" \
    "Mbed TLS accepts OpenSSL's ECDSA, AES-GCM and ECDH everywhere (trust_selftest)"
