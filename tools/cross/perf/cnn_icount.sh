#!/usr/bin/env bash
# Instruction counts of the convolutional body (a DS-CNN on 28x28x1, int8 and
# float32; tools/cross/perf/cnn_icount_perf.cc says what is measured) on
# Cortex-M4F, Cortex-M4 without FPU and Cortex-M7 under QEMU's -icount. Prints a
# Markdown table; with --write, also puts it into docs/benchmarks.md between
# <!-- cnn_icount:begin --> and <!-- cnn_icount:end -->; with --check, fails
# when that section differs from a fresh run.
#   tools/cross/perf/cnn_icount.sh [--write|--check] [--build-dir DIR]
set -euo pipefail
source "$(dirname "$0")/../cmake_targets.sh"
ROOT="$(cd "$CROSS_DIR/../.." && pwd)"
cross_doc_args "$@"

CROSS_CMAKE_ARGS=(-DFEDTINY_CNN_PERF=ON)
TARGETS=(cortex-m4 cortex-m4-nofpu cortex-m7)
cross_build cortex-m4 "$work" cnn_icount_perf & cross_build cortex-m4-nofpu "$work" cnn_icount_perf & wait
cross_build cortex-m7 "$work" cnn_icount_perf
for t in "${TARGETS[@]}"; do
  cross_run "$t" "$work/$t/cnn_icount_perf.elf" >"$work/$t.out" 2>"$work/$t.err" \
    || { cat "$work/$t.out" "$work/$t.err" >&2; cross_die "cnn_icount_perf failed on $t"; }
done

m() { awk -v k="$2" '$1 == "m" && $2 == k { print $3 }' "$work/$1.out"; }
# Rounded to 100 instructions (the SysTick resolves 40 per measurement), with commas.
fmt() { awk -v n="$1" 'BEGIN { s = sprintf("%d", int(n / 100 + 0.5) * 100); out = "";
  while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
  print s out }'; }
table() {
  echo "| DS-CNN body 28x28x1 -> 10, one example (instructions, QEMU 7.2 \`-icount shift=0\`) | Cortex-M4F (hard float) | Cortex-M4, no FPU (soft float) | Cortex-M7 (hard float) |"
  echo "| --- | ---: | ---: | ---: |"
  local row key
  for row in "int8, \`Int8Network::ForwardInt8\` (int8 in and out):int8_cnn_kernel_per_example" \
             "int8, \`Int8Network::Forward\` (float in and out):int8_cnn_forward_per_example" \
             "float32, \`Network::Forward\`:float_cnn_per_example"; do
    key=${row##*:}
    printf "| %s | %s | %s | %s |\n" "${row%:*}" "$(fmt "$(m cortex-m4 "$key")")" \
      "$(fmt "$(m cortex-m4-nofpu "$key")")" "$(fmt "$(m cortex-m7 "$key")")"
  done
  echo
  echo "Measured by \`tools/cross/perf/cnn_icount.sh\` (\`tools/cross/perf/cnn_icount_perf.cc\`, arm-none-eabi-gcc" \
       "$(arm-none-eabi-gcc -dumpversion), -O3 for the layers); QEMU counts instructions, not cycles."
}
table >"$work/table.md"
cat "$work/table.md"
grep -h '^# ' "$work"/cortex-m*.out | sed 's/^# /  /' >&2
case $mode in
  --write) python3 "$CROSS_DIR/doc_section.py" "$ROOT/docs/benchmarks.md" cnn_icount <"$work/table.md" ;;
  --check) python3 "$CROSS_DIR/doc_section.py" "$ROOT/docs/benchmarks.md" cnn_icount --check <"$work/table.md" ;;
esac
