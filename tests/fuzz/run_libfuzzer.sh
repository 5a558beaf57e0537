#!/usr/bin/env bash
# The long libFuzzer run of one harness, as a manual Bazel test (tests/fuzz/fuzz.bzl):
#   run_libfuzzer.sh FUZZER_BINARY SEED_CORPUS_DIR [libFuzzer flags...]
# Runs for $FUZZ_SECONDS (default 600) on a scratch copy of the corpus; a crash
# input lands in the test's undeclared outputs (bazel-testlogs/.../test.outputs).
set -euo pipefail
fuzzer=$1 seeds=$2
shift 2
work="${TEST_TMPDIR:-$(mktemp -d)}/corpus"
out="${TEST_UNDECLARED_OUTPUTS_DIR:-$(mktemp -d)}"
mkdir -p "$work"
exec "$fuzzer" -max_total_time="${FUZZ_SECONDS:-600}" -timeout=25 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$out/" "$@" "$work" "$seeds"
