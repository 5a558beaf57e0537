#!/usr/bin/env bash
# Runs docs/cli.md's transcript as written (tests/cli_transcript.py).
set -euo pipefail
exec python3 tests/cli_transcript.py check docs/cli.md coordinator sim
