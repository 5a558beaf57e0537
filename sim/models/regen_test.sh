#!/bin/bash
# The checked-in convolutional workload is reproducible: train_cnn.py, run again
# with Debian's python3-torch into a temporary folder, writes the same ONNX files
# bit for bit, and the same JSON figures (parameters, multiply-adds, every
# accuracy exactly; only the "seconds" timings may differ). Torch on CPU with
# fixed seeds, two threads and deterministic algorithms repeats itself on one
# machine; on a CPU with other vector instructions the float sums may round
# differently, and this test then says which file differs. Prints SKIP and passes
# where torch, onnx or the dataset is missing. Several minutes: manual.
set -euo pipefail
if [[ -n "${TEST_SRCDIR:-}" ]]; then
  ROOT="${TEST_SRCDIR}/${TEST_WORKSPACE:-__main__}"
else
  ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
fi
DIR="${ROOT}/sim/models"
DATA=/usr/share/datasets/fashion-mnist
PY=""
for candidate in /usr/bin/python3 python3; do
  if command -v "${candidate}" >/dev/null 2>&1 && "${candidate}" -c 'import torch, numpy, onnx' 2>/dev/null; then
    PY="${candidate}"
    break
  fi
done
if [[ -z "${PY}" ]]; then
  echo "SKIP: no python3 with torch, numpy and onnx (Debian: python3-torch python3-onnx)"
  exit 0
fi
if [[ ! -f "${DATA}/train-images-idx3-ubyte.gz" ]]; then
  echo "SKIP: no ${DATA} (Debian: dataset-fashion-mnist)"
  exit 0
fi
OUT="$(mktemp -d "${TEST_TMPDIR:-/tmp}/models.XXXXXX")"
"${PY}" "${DIR}/train_cnn.py" --data "${DATA}" --out "${OUT}"
status=0
for m in ds_cnn ds_cnn_small; do
  if cmp -s "${DIR}/${m}.onnx" "${OUT}/${m}.onnx"; then
    echo "${m}.onnx: identical"
  else
    echo "FAIL: ${m}.onnx differs from the checked-in file"
    status=1
  fi
done
for m in ds_cnn ds_cnn_small dense; do
  "${PY}" - "${DIR}/${m}.json" "${OUT}/${m}.json" <<'PYEOF' || status=1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
a.pop("seconds"), b.pop("seconds")
if a != b:
    sys.exit(f"FAIL: {sys.argv[1]} differs: {json.dumps(a)} vs {json.dumps(b)}")
print(f"{a['model']}.json: same figures")
PYEOF
done
exit "${status}"
