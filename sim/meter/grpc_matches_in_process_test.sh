#!/usr/bin/env bash
# meter_fleet --grpc (a real coordinator's Metering service on 127.0.0.1) must
# reach the same verdicts as the ledger in process: the same seed, the same
# table, and cheaters are flagged at all (the comparison has something to see).
set -euo pipefail
fleet=sim/meter/meter_fleet
args=(--devices=60 --days=12 --cheat_fraction=0.4 --seed=3)
in_process=$("$fleet" "${args[@]}" | grep -v '^#')
grpc=$("$fleet" "${args[@]}" --grpc --grpc_data_dir="$TEST_TMPDIR/coordinator" 2>/dev/null | grep -v '^#')
echo "$in_process"
if [[ "$in_process" != "$grpc" ]]; then
  echo "FAIL: over gRPC the fleet's table differs:"
  echo "$grpc"
  exit 1
fi
test -s "$TEST_TMPDIR/coordinator/meter_ledger.pb" || { echo "FAIL: no ledger written"; exit 1; }
flagged=$(echo "$in_process" | awk 'NR > 1 && $1 != "honest" { s += $(NF - 4) } END { print s + 0 }')
honest_flagged=$(echo "$in_process" | awk '$1 == "honest" { s += $4 } END { print s + 0 }')
echo "cheaters flagged: $flagged; honest devices flagged: $honest_flagged"
[[ "$flagged" -gt 0 && "$honest_flagged" -eq 0 ]] || { echo "FAIL: flags"; exit 1; }
echo PASS
