#!/bin/bash
# The checked-in distilled small variant is reproducible: distill_small.py, run
# again with Debian's python3-torch from the checked-in ds_cnn.onnx into a
# temporary folder, writes ds_cnn_distilled.onnx bit for bit and the same JSON
# figures (only the "seconds" timings may differ). As regen_test.sh: fixed seeds,
# two threads, deterministic algorithms; another CPU's vector instructions may
# round differently, and the test then says which file differs. Prints SKIP and
# passes where torch, onnx or the dataset is missing. Manual.
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
OUT="$(mktemp -d "${TEST_TMPDIR:-/tmp}/distill.XXXXXX")"
"${PY}" "${DIR}/distill_small.py" --data "${DATA}" --teacher "${DIR}/ds_cnn.onnx" --out "${OUT}"
status=0
if cmp -s "${DIR}/ds_cnn_distilled.onnx" "${OUT}/ds_cnn_distilled.onnx"; then
  echo "ds_cnn_distilled.onnx: identical"
else
  echo "FAIL: ds_cnn_distilled.onnx differs from the checked-in file"
  status=1
fi
"${PY}" - "${DIR}/ds_cnn_distilled.json" "${OUT}/ds_cnn_distilled.json" <<'PYEOF' || status=1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
a.pop("seconds"), b.pop("seconds")
if a != b:
    sys.exit(f"FAIL: {sys.argv[1]} differs: {json.dumps(a)} vs {json.dumps(b)}")
print("ds_cnn_distilled.json: same figures")
PYEOF
exit "${status}"
