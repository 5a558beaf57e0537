#!/usr/bin/env bash
# Runs the example app and checks that it stored, paused, resumed and learned.
set -euo pipefail
out=$(client/examples/on_device_app "${TEST_TMPDIR:-/tmp}")
echo "$out"
grep -q "stored 500 of 800 examples seen" <<<"$out"
grep -q "paused after .* examples: not charging (checkpoint saved)" <<<"$out"
grep -q "resumed and finished: 1500 examples in all" <<<"$out"
after=$(sed -n 's/.*-> \([0-9.]*\)%.*/\1/p' <<<"$out")
awk -v a="$after" 'BEGIN { exit !(a > 80) }' || { echo "accuracy $after% too low"; exit 1; }
