#!/usr/bin/env bash
# The real DS-CNN's int8 body on a Cortex-M4 (issue 16 item 5): cnn_model_gen
# imports the committed sim/models/ds_cnn.onnx as `flctl models import` does
# (two head layers, the int8 body calibrated on the first 6000 Fashion-MNIST
# training images) and writes the header (the body, the float head, the first
# 100 test images and the host's int8 outputs and top-1, the host's kernels
# checked against the naive int8 reference); CMake cross-builds
# perf/cnn_model_perf.cc with it for cortex-m4 and QEMU (mps2-an386, -icount)
# runs it: it must exit 0 with every image's int8 outputs byte-identical to the
# host's and the host's top-1. Then, with one expected byte changed in the
# header, the rebuilt program must exit 1 naming image 0: a mismatch cannot
# pass. A missing tool, data set or source package is a failure, never a skip.
#   bazel test //tools/cross:cnn_model_test
set -euo pipefail

fail() { echo "cnn_model_test: FAIL: $*" >&2; exit 1; }
log() { echo "cnn_model_test: $*"; }

[[ -n "${TEST_SRCDIR:-}" ]] || fail "run it with bazel test //tools/cross:cnn_model_test"
ROOT="${TEST_SRCDIR}/${TEST_WORKSPACE:-__main__}"
WORK="${TEST_TMPDIR}/cnn_model"
DATA=/usr/share/datasets/fashion-mnist
mkdir -p "$WORK"

need() {
  command -v "$1" >/dev/null 2>&1 || fail "'$1' not found: $2. Run tools/setup (Debian package $3)."
}
need cmake "CMake builds the program" cmake
need ninja "CMake's generator here" ninja-build
need arm-none-eabi-g++ "the Cortex-M compiler" gcc-arm-none-eabi
need qemu-system-arm "runs the program" qemu-system-arm
need python3 "changes one expected byte" python3
[[ -f "$DATA/t10k-images-idx3-ubyte.gz" ]] || fail "no $DATA: run tools/setup (dataset-fashion-mnist)"

source "$ROOT/tools/cross/cmake_targets.sh"
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# 1. The header, from the committed ONNX.
start=$(now)
"$ROOT/tools/cross/cnn_model_gen" "$ROOT/sim/models/ds_cnn.onnx" "$DATA" 100 "$WORK/cnn_model_data.h" \
  || fail "cnn_model_gen failed"
log "header generated in $(since "$start") s"

# 2. Cross-build and run on the Cortex-M4.
start=$(now)
CROSS_CMAKE_ARGS=(-DFEDTINY_CNN_MODEL_HEADER="$WORK/cnn_model_data.h")
cross_build cortex-m4 "$WORK" cnn_model_perf
log "cortex-m4 build in $(since "$start") s"
rc=0
cross_run cortex-m4 "$WORK/cortex-m4/cnn_model_perf.elf" >"$WORK/run.out" 2>"$WORK/run.err" || rc=$?
cat "$WORK/run.out"
[[ $rc == 0 ]] || { cat "$WORK/run.err" >&2; fail "cnn_model_perf exited $rc on cortex-m4"; }
m() { awk -v k="$1" '$1 == "m" && $2 == k { print $3 }' "$WORK/run.out"; }
[[ "$(m images)" == 100 && "$(m mismatched_images)" == 0 ]] \
  || fail "want 100 images, none mismatched: $(m images) images, $(m mismatched_images) mismatched"
grep -q '^PASS: 100 images, int8 outputs byte-identical' "$WORK/run.out" || fail "no PASS line"
correct=$(m top1_correct)
[[ -n "$correct" ]] && ((correct >= 70)) || fail "top-1 $correct/100: not the trained DS-CNN"
log "cortex-m4: 100 images byte-identical to the host, top-1 $correct/100," \
    "$(m int8_model_per_example) instructions per example"

# 3. One expected output byte changed: the program must see it.
python3 - "$WORK/cnn_model_data.h" <<'EOF'
import re, sys
path = sys.argv[1]
text = open(path).read()
m = re.search(r"kExpectedFeatures\[\d+\] = \{\s*(-?\d+),", text)
v = int(m.group(1))
text = text[:m.start(1)] + str(v - 1 if v > -128 else v + 1) + text[m.end(1):]
open(path, "w").write(text)
EOF
cross_build cortex-m4 "$WORK" cnn_model_perf
rc=0
cross_run cortex-m4 "$WORK/cortex-m4/cnn_model_perf.elf" >"$WORK/bad.out" 2>&1 || rc=$?
[[ $rc == 1 ]] || { cat "$WORK/bad.out" >&2; fail "a wrong expected byte gave status $rc, not 1"; }
grep -q '^MISMATCH: image 0: int8 output 0 ' "$WORK/bad.out" \
  || { cat "$WORK/bad.out" >&2; fail "the changed byte was not reported as image 0's output 0"; }
log "a changed expected byte fails the run"
echo "PASS: the real DS-CNN's int8 body computes on a Cortex-M4 exactly what the host computes"
