#!/usr/bin/env bash
# Sizes of client/core per target and RAM high-water on Cortex-M (issue #12 item
# 5): builds tools/cross with CMake for the host, aarch64 Linux, Cortex-M4F,
# Cortex-M4 without FPU and Cortex-M7, lists text/data/bss of the fedtiny_core
# library (client/CMakeLists.txt; every object, before the linker drops what a
# program does not call)
# and of the programs, and runs the Cortex-M programs under QEMU for their heap
# and stack high-water (tools/cross/mps2/startup.c's `fedtiny-ram:` line).
# Prints a Markdown table; --write puts it into docs/client.md between
# <!-- sizes:begin --> and <!-- sizes:end -->; --check fails when that section
# differs from a fresh run. The same compilers give the same table.
#   tools/cross/sizes.sh [--write|--check] [--build-dir DIR]
set -euo pipefail
source "$(dirname "$0")/cmake_targets.sh"
ROOT="$(cd "$CROSS_DIR/../.." && pwd)"
cross_doc_args "$@"

TARGETS=(host aarch64 cortex-m4 cortex-m4-nofpu cortex-m7)
cross_build host "$work" & cross_build aarch64 "$work" & wait
cross_build cortex-m4 "$work" & cross_build cortex-m4-nofpu "$work" & wait
cross_build cortex-m7 "$work"

# text data bss of a file (an archive: the sum over its objects).
tdb() { "${CROSS_SIZE[$1]}" -t "$2" | awk 'END { print $1, $2, $3 }'; }
ram() {  # target program: "heap stack" from the run's stderr
  local err="$work/$1.$2.err"
  cross_run "$1" "$work/$1/$2.elf" >"$work/$1.$2.out" 2>"$err" \
    || { cat "$err" >&2; cross_die "$2 failed on $1"; }
  awk '$1 == "fedtiny-ram:" { print $3, $5 }' "$err"
}
row() {  # target, what, file, program to run for RAM (or "")
  local t=$1 what=$2 heap="-" stack="-" text data bss
  read -r text data bss < <(tdb "$t" "$3")
  [[ -n "$4" ]] && read -r heap stack < <(ram "$t" "$4")
  echo "| $t | $what | $text | $data | $bss | $heap | $stack |"
}

table() {
  echo "| target | what | text | data | bss | heap high-water | stack high-water |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
  local t s
  for t in "${TARGETS[@]}"; do
    s=${CROSS_SUFFIX[$t]}
    row "$t" "fedtiny_core library (all objects)" "$work/$t/client/libfedtiny_core.a" ""
    local prog=""
    [[ $t == cortex-m* ]] && prog=core_selftest
    row "$t" "core_selftest (24-16 body, 16-8-4 head, int8 kernels, 128-64-10 arena bar)" "$work/$t/core_selftest$s" "$prog"
    if [[ $t == cortex-m* ]]; then
      row "$t" "icount_perf (784-128 body, 128-64-10 head)" "$work/$t/icount_perf$s" icount_perf
    fi
  done
  echo
  echo "Bytes. text = code + read-only data (flash), data + bss = static RAM; heap and stack" \
       "high-water from a run under QEMU (Cortex-M only; \`-\` elsewhere). Written by" \
       "\`tools/cross/sizes.sh --write\`: $(c++ -dumpfullversion 2>/dev/null || c++ -dumpversion) (host)," \
       "aarch64-linux-gnu-g++ $(aarch64-linux-gnu-g++ -dumpversion)," \
       "arm-none-eabi-g++ $(arm-none-eabi-g++ -dumpversion) with newlib-nano; -O2, the trainer and int8 kernels -O3."
}
table >"$work/table.md"
cat "$work/table.md"
case $mode in
  --write) python3 "$CROSS_DIR/doc_section.py" "$ROOT/docs/client.md" sizes <"$work/table.md" ;;
  --check) python3 "$CROSS_DIR/doc_section.py" "$ROOT/docs/client.md" sizes --check <"$work/table.md" ;;
esac
