#!/usr/bin/env bash
# drift_fleet --grpc (the real Exporter and TelemetryClient, a real
# coordinator's Telemetry and Admin services on 127.0.0.1) must give the same
# per-window table as the coordinator code in process: the same seed, the same
# reports, the same PSI and alerts; and the drifted class is flagged at all
# (the comparison has something to see).
set -euo pipefail
fleet=sim/telemetry/drift_fleet
args=(--devices=1500 --windows=2 --drift=brightness --seed=5)
strip_times() { sed -E 's/ \([0-9.]+ s\)$//'; }
in_process=$("$fleet" "${args[@]}" | strip_times)
grpc=$("$fleet" "${args[@]}" --grpc --grpc_data_dir="$TEST_TMPDIR/coordinator" 2>/dev/null |
       strip_times)
echo "$in_process"
if [[ "$in_process" != "$grpc" ]]; then
  echo "FAIL: over gRPC the fleet's table differs:"
  echo "$grpc"
  exit 1
fi
test -s "$TEST_TMPDIR/coordinator/telemetry.pb" || { echo "FAIL: no telemetry.pb"; exit 1; }
echo "$in_process" | grep -qE '^1 +gateway +300 +300 +drift ' ||
  { echo "FAIL: the drifted gateways were not flagged in window 1"; exit 1; }
if echo "$in_process" | grep -E '^0 |phone' | grep -q ' drift '; then
  echo "FAIL: a false alarm"; exit 1
fi
echo PASS
