#!/usr/bin/env bash
# The real DS-CNN's int8 body (sim/models/ds_cnn.onnx imported as `flctl models
# import` does, int8 calibrated on the proxy split; perf/cnn_model_gen.cc) on
# Cortex-M4F, Cortex-M4 without FPU and Cortex-M7 under QEMU's -icount:
# instructions per example over the first 100 test images, top-1 with the
# float head, whether every int8 output is the host's, and RAM. Prints a
# Markdown table; with --write, also puts it into docs/benchmarks.md between
# <!-- cnn_model:begin --> and <!-- cnn_model:end -->; with --check, fails when
# that section differs from a fresh run. Builds //tools/cross:cnn_model_gen
# with Bazel first (about 60 s in all).
#   tools/cross/perf/cnn_model_icount.sh [--write|--check] [--build-dir DIR]
set -euo pipefail
source "$(dirname "$0")/../cmake_targets.sh"
ROOT="$(cd "$CROSS_DIR/../.." && pwd)"
cross_doc_args "$@"

IMAGES=100
( cd "$ROOT" && source tools/bazel_flags \
    && bazel build "${FEDTINY_BAZEL_FLAGS[@]}" //tools/cross:cnn_model_gen >"$work/bazel.log" 2>&1 ) \
  || { tail -20 "$work/bazel.log" >&2; cross_die "bazel build //tools/cross:cnn_model_gen failed"; }
"$ROOT/bazel-bin/tools/cross/cnn_model_gen" "$ROOT/sim/models/ds_cnn.onnx" \
  /usr/share/datasets/fashion-mnist "$IMAGES" "$work/cnn_model_data.h" >&2 \
  || cross_die "cnn_model_gen failed"

CROSS_CMAKE_ARGS=(-DFEDTINY_CNN_MODEL_HEADER="$work/cnn_model_data.h")
TARGETS=(cortex-m4 cortex-m4-nofpu cortex-m7)
cross_build cortex-m4 "$work" cnn_model_perf & cross_build cortex-m4-nofpu "$work" cnn_model_perf & wait
cross_build cortex-m7 "$work" cnn_model_perf
for t in "${TARGETS[@]}"; do
  cross_run "$t" "$work/$t/cnn_model_perf.elf" >"$work/$t.out" 2>"$work/$t.err" \
    || { cat "$work/$t.out" "$work/$t.err" >&2; cross_die "cnn_model_perf failed on $t"; }
done

m() { awk -v k="$2" '$1 == "m" && $2 == k { print $3 }' "$work/$1.out"; }
# With commas; instructions rounded to 100 (the SysTick resolves 40 per measurement).
commas() { awk -v n="$1" 'BEGIN { s = sprintf("%d", n); out = "";
  while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
  print s out }'; }
round100() { commas "$(awk -v n="$1" 'BEGIN { printf "%d", int(n / 100 + 0.5) * 100 }')"; }
row() {  # label, then a command printing one target's cell
  local label=$1 t cells=""
  shift
  for t in "${TARGETS[@]}"; do cells+=" $("$@" "$t") |"; done
  echo "| $label |$cells"
}
instr() { round100 "$(m "$1" int8_model_per_example)"; }
top1() { echo "$(m "$1" top1_correct) / $(m "$1" images)"; }
same() { echo "$(( $(m "$1" images) - $(m "$1" mismatched_images) )) / $(m "$1" images)"; }
bytes() { commas "$(m "$1" "$key")"; }
# data + bss (arm-none-eabi-size) + the heap and stack high-water marks
# (mps2/startup.c's fedtiny-ram line).
total_ram() {
  commas "$( { arm-none-eabi-size -A "$work/$1/cnn_model_perf.elf"; cat "$work/$1.err"; } \
    | awk '$1 == ".data" || $1 == ".bss" { n += $2 } $1 == "fedtiny-ram:" { n += $3 + $5 } END { print n }')"
}
table() {
  echo "| real DS-CNN int8 body (\`sim/models/ds_cnn.onnx\`, 28x28x1 -> 128), first $IMAGES test images | Cortex-M4F (hard float) | Cortex-M4, no FPU (soft float) | Cortex-M7 (hard float) |"
  echo "| --- | ---: | ---: | ---: |"
  row "instructions per example, \`Int8Network::ForwardInt8\` (QEMU 7.2 \`-icount shift=0\`)" instr
  row "int8 outputs byte-identical to the host's (images)" same
  row "top-1 correct, the float head on the int8 outputs (the host: $(awk '/kHostCorrect/ { sub(";", "", $NF); print $NF }' "$work/cnn_model_data.h") / $IMAGES)" top1
  key=arena_bytes; row "RAM: arena (bytes, two int8 ping-pong buffers)" bytes
  key=weight_bytes; row "RAM: weights (bytes: int8 weights, int32 bias and float scale per channel)" bytes
  key=network_heap_bytes; row "RAM: heap the built network holds (bytes: the weights, multipliers, shifts, vectors)" bytes
  row "RAM: the whole program (data + bss + heap and stack high-water; the images are in flash)" total_ram
  echo
  echo "Measured by \`tools/cross/perf/cnn_model_icount.sh\` (\`tools/cross/perf/cnn_model_perf.cc\` on the header of" \
       "\`//tools/cross:cnn_model_gen\`, arm-none-eabi-gcc $(arm-none-eabi-gcc -dumpversion), -O3 for the layers);" \
       "QEMU counts instructions, not cycles."
}
table >"$work/table.md"
cat "$work/table.md"
grep -h '^# ' "$work"/cortex-m*.out | sed 's/^# /  /' >&2
case $mode in
  --write) python3 "$CROSS_DIR/doc_section.py" "$ROOT/docs/benchmarks.md" cnn_model <"$work/table.md" ;;
  --check) python3 "$CROSS_DIR/doc_section.py" "$ROOT/docs/benchmarks.md" cnn_model --check <"$work/table.md" ;;
esac
