#!/bin/bash
# The committed ONNX cases are what make_cases.py makes: regenerates them with
# Debian's python3-torch into a temp dir and compares (graphs and initializers
# exactly, outputs within 1e-6). Tagged manual (torch.onnx.export takes ~10 s);
# SKIP where torch or onnx is not importable.
set -euo pipefail
if [[ -n "${TEST_SRCDIR:-}" ]]; then
  ROOT="${TEST_SRCDIR}/${TEST_WORKSPACE:-__main__}"
else
  ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
fi
DIR="${ROOT}/tools/onnx/testdata"
PY=""
for candidate in /usr/bin/python3 python3; do
  if command -v "${candidate}" >/dev/null 2>&1 &&
     "${candidate}" -c 'import onnx, torch, numpy' 2>/dev/null; then
    PY="${candidate}"
    break
  fi
done
if [[ -z "${PY}" ]]; then
  echo "SKIP: no python3 with onnx, torch and numpy"
  exit 0
fi
"${PY}" "${DIR}/make_cases.py" --check "${DIR}"
