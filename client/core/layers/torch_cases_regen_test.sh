#!/bin/bash
# The checked-in PyTorch cases are reproducible: torch_cases.py, run again with
# Debian's python3-torch, makes the same cases (inputs, parameters and
# integers exactly, outputs within 1e-6). Where torch is not importable it says
# SKIP and passes: the C++ test still checks the checked-in file.
set -euo pipefail
if [[ -n "${TEST_SRCDIR:-}" ]]; then
  ROOT="${TEST_SRCDIR}/${TEST_WORKSPACE:-__main__}"
else
  ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
fi
DIR="${ROOT}/client/core/layers/testdata"
PY=""
for candidate in /usr/bin/python3 python3; do
  if command -v "${candidate}" >/dev/null 2>&1 && "${candidate}" -c 'import torch, numpy' 2>/dev/null; then
    PY="${candidate}"
    break
  fi
done
if [[ -z "${PY}" ]]; then
  echo "SKIP: no python3 with torch and numpy (Debian: apt-get install python3-torch)"
  exit 0
fi
"${PY}" "${DIR}/torch_cases.py" --check "${DIR}/torch_cases.txt"
