#!/usr/bin/env bash
# Instruction counts of the device's hot operations on Cortex-M4F (hard float),
# Cortex-M4 without FPU (soft float) and Cortex-M7, under QEMU's -icount
# (tools/cross/perf/icount_perf.cc says what is measured and how). Prints a
# Markdown table; with --write, also puts it into docs/client.md and
# docs/benchmarks.md between <!-- icount:begin --> and <!-- icount:end -->;
# with --check, fails when those sections differ from a fresh run.
#   tools/cross/perf/icount.sh [--write|--check] [--build-dir DIR]
set -euo pipefail
source "$(dirname "$0")/../cmake_targets.sh"
ROOT="$(cd "$CROSS_DIR/../.." && pwd)"
cross_doc_args "$@"

TARGETS=(cortex-m4 cortex-m4-nofpu cortex-m7)
cross_build cortex-m4 "$work" icount_perf & cross_build cortex-m4-nofpu "$work" icount_perf & wait
cross_build cortex-m7 "$work" icount_perf
for t in "${TARGETS[@]}"; do
  cross_run "$t" "$work/$t/icount_perf.elf" >"$work/$t.out" 2>"$work/$t.err" \
    || { cat "$work/$t.out" "$work/$t.err" >&2; cross_die "icount_perf failed on $t"; }
done

m() { awk -v k="$2" '$1 == "m" && $2 == k { print $3 }' "$work/$1.out"; }
# Rounded to 100 instructions (the SysTick resolves 40 per measurement), with commas.
fmt() { awk -v n="$1" 'BEGIN { s = sprintf("%d", int(n / 100 + 0.5) * 100); out = "";
  while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
  print s out }'; }
table() {
  echo "| operation (instructions, QEMU 7.2 \`-icount shift=0\`) | Cortex-M4F (hard float) | Cortex-M4, no FPU (soft float) | Cortex-M7 (hard float) |"
  echo "| --- | ---: | ---: | ---: |"
  local row key
  for row in "int8 body 784->128, integer kernels, per example:int8_kernel_per_example" \
             "int8 body 784->128, \`FeaturesInto\` (float in and out), per example:int8_features_into_per_example" \
             "float body 784->128, \`Body::Features\`, per example:float_body_per_example" \
             "head training step 128-64-10, batch 10:head_step_batch10"; do
    key=${row##*:}
    printf "| %s | %s | %s | %s |\n" "${row%:*}" "$(fmt "$(m cortex-m4 "$key")")" \
      "$(fmt "$(m cortex-m4-nofpu "$key")")" "$(fmt "$(m cortex-m7 "$key")")"
  done
  echo
  echo "Measured by \`tools/cross/perf/icount.sh\` (\`tools/cross/perf/icount_perf.cc\`, arm-none-eabi-gcc" \
       "$(arm-none-eabi-gcc -dumpversion), -O2, -O3 for the trainer and the int8 kernels); QEMU counts instructions, not cycles."
}
table >"$work/table.md"
cat "$work/table.md"
grep -h '^# ' "$work"/cortex-m*.out | sed 's/^# /  /' >&2
case $mode in
  --write) for doc in docs/client.md docs/benchmarks.md; do
             python3 "$CROSS_DIR/doc_section.py" "$ROOT/$doc" icount <"$work/table.md"; done ;;
  --check) for doc in docs/client.md docs/benchmarks.md; do
             python3 "$CROSS_DIR/doc_section.py" "$ROOT/$doc" icount --check <"$work/table.md"; done ;;
esac
