# Sourced by tools/cross/sizes.sh, perf/*icount.sh and cnn_model_test.sh: the CMake
# targets of tools/cross and how to build and run their programs.
#   cross_build TARGET WORKDIR [PROGRAM...]  configures and builds into WORKDIR/TARGET
#                                            (log WORKDIR/TARGET.log); dies on failure;
#                                            CROSS_CMAKE_ARGS (an array, if set) adds
#                                            configure options
#   cross_run TARGET PROGRAM_PATH            runs it (QEMU for non-host targets;
#                                            Cortex-M with -icount shift=0)
#   cross_doc_args "$@"                      the doc scripts' arguments: sets `mode`
#                                            (--write, --check or empty) and `work`
#                                            (--build-dir, else a temporary directory
#                                            removed at exit)
CROSS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
declare -A CROSS_TOOLCHAIN=([host]="" [aarch64]=aarch64-linux-gnu.cmake [cortex-m4]=cortex-m4.cmake
                            [cortex-m4-nofpu]=cortex-m4-nofpu.cmake [cortex-m7]=cortex-m7.cmake)
declare -A CROSS_SUFFIX=([host]="" [aarch64]="" [cortex-m4]=.elf [cortex-m4-nofpu]=.elf
                         [cortex-m7]=.elf)
declare -A CROSS_SIZE=([host]=size [aarch64]=aarch64-linux-gnu-size [cortex-m4]=arm-none-eabi-size
                       [cortex-m4-nofpu]=arm-none-eabi-size [cortex-m7]=arm-none-eabi-size)
declare -A CROSS_MACHINE=([cortex-m4]=mps2-an386 [cortex-m4-nofpu]=mps2-an386 [cortex-m7]=mps2-an500)

cross_die() { echo "$(basename "$0"): FAIL: $*" >&2; exit 1; }

cross_doc_args() {
  mode="" work=""
  while [[ $# -gt 0 ]]; do
    case $1 in
      --write|--check) mode=$1 ;;
      --build-dir) work=$2; shift ;;
      *) cross_die "unknown argument $1" ;;
    esac
    shift
  done
  if [[ -z "$work" ]]; then work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT; fi
  mkdir -p "$work"
}

cross_build() {
  local t=$1 work=$2 tc=()
  shift 2
  [[ -n "${CROSS_TOOLCHAIN[$t]}" ]] && tc=(-DCMAKE_TOOLCHAIN_FILE="$CROSS_DIR/${CROSS_TOOLCHAIN[$t]}")
  { cmake -S "$CROSS_DIR" -B "$work/$t" -G Ninja "${tc[@]}" ${CROSS_CMAKE_ARGS[@]+"${CROSS_CMAKE_ARGS[@]}"} \
      && cmake --build "$work/$t" -- -j1 "$@"; } >"$work/$t.log" 2>&1 \
    || { tail -30 "$work/$t.log" >&2; cross_die "the $t build failed (log above)"; }
}

cross_run() {
  local t=$1 prog=$2
  case $t in
    host) timeout 120 "$prog" ;;
    aarch64) timeout 120 qemu-aarch64 "$prog" ;;
    *) timeout 300 qemu-system-arm -M "${CROSS_MACHINE[$t]}" -nographic -icount shift=0 \
         -semihosting-config enable=on,target=native -kernel "$prog" ;;
  esac </dev/null
}
