#!/usr/bin/env bash
# Runs docs/models.md's transcript as written (tests/cli_transcript.py).
set -euo pipefail
exec python3 tests/cli_transcript.py check docs/models.md coordinator sim tools/onnx
