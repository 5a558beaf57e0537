#!/bin/bash
# ExportOnnx checked outside the project: onnx_export_cases exports seeded models
# of every layer type with the core's outputs on random inputs; onnx_eval.py
# loads each with the `onnx` package (check_model), evaluates it with its own
# torch.nn.functional evaluator and compares (1e-5). tools/setup installs
# python3-onnx and python3-torch; without them the test fails and says so.
set -euo pipefail
if [[ -n "${TEST_SRCDIR:-}" ]]; then
  ROOT="${TEST_SRCDIR}/${TEST_WORKSPACE:-__main__}"
else
  ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
fi
PY=""
for candidate in /usr/bin/python3 python3; do
  if command -v "${candidate}" >/dev/null 2>&1 &&
     "${candidate}" -c 'import onnx, torch, numpy' 2>/dev/null; then
    PY="${candidate}"
    break
  fi
done
if [[ -z "${PY}" ]]; then
  echo "FAIL: no python3 with onnx, torch and numpy (tools/setup installs python3-onnx python3-torch)" >&2
  exit 1
fi
OUT="${TEST_TMPDIR:-$(mktemp -d)}/exports"
mkdir -p "${OUT}"
"${ROOT}/tools/onnx/onnx_export_cases" "${OUT}"
"${PY}" "${ROOT}/tools/onnx/onnx_eval.py" "${OUT}"
