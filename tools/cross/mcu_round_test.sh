#!/usr/bin/env bash
# A microcontroller in a real round (issue #12 item 6), end to end on 127.0.0.1:
# builds the Cortex-M4 firmware (tools/cross/mcu/) with CMake, starts the real
# coordinator with tools/cross/mcu/mcu_task.textproto, runs the firmware under
# qemu-system-arm (mps2-an386) with UART0 on a unix socket that fedtiny_gateway
# relays to the coordinator, and, once the microcontroller holds its assignment,
# sim/net_fleet's Fashion-MNIST devices over gRPC. Requires: the firmware exits 0
# after its upload; its RAM line (data + bss + heap high-water + painted stack
# high-water; the flash store aside) at most 262144 bytes, the mcu-m4 class's
# 256 KiB, with 0 allocations during training; round 1 commits with 4 reports (it needs all four); flctl
# lists mcu-qemu-1 (class mcu-m4) and three simulated devices with one
# contributed round each; the gateway relayed every frame intact. Then, with no
# coordinator behind the gateway, the firmware must exit 1 with its check-in's
# UNAVAILABLE error. Partial verification (issue #13): the firmware is built with
# the trust directory's targets key and must print that it verified its signed
# target; rebuilt with a wrong key, it must exit 1 with "trust:signature" before
# downloading. Encrypted bundles (issue #13): the coordinator serves every
# bundle encrypted; the firmware must enroll its P-256 key (through the
# gateway's Enroll frames), unwrap its model key and print that it decrypted
# the bundle; rebuilt to flip one ciphertext byte after verification
# (FEDTINY_MCU_TAMPER_CIPHERTEXT), it must exit 1 with its decrypt refusal
# and not train. Prints the firmware's size. A missing tool or Debian source package is a failure, never
# a skip.
#   bazel test //tools/cross:mcu_round_test
set -euo pipefail

fail() { echo "mcu_round_test: FAIL: $*" >&2; exit 1; }
log() { echo "mcu_round_test: $*"; }

[[ -n "${TEST_SRCDIR:-}" ]] || fail "run it with bazel test //tools/cross:mcu_round_test"
ROOT="${TEST_SRCDIR}/${TEST_WORKSPACE:-__main__}"
WORK="${TEST_TMPDIR}/mcu"
CROSS="$ROOT/tools/cross"
mkdir -p "$WORK"
# QEMU's socket path must fit sun_path (108 bytes); $TEST_TMPDIR may not.
SOCKDIR="$(mktemp -d /tmp/fedtiny-mcu-XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$SOCKDIR"
}
trap cleanup EXIT

need() {
  command -v "$1" >/dev/null 2>&1 || fail "'$1' not found: $2. Run tools/setup (Debian package $3)."
}
need cmake "CMake builds the firmware" cmake
need ninja "CMake's generator here" ninja-build
need arm-none-eabi-g++ "the Cortex-M compiler" gcc-arm-none-eabi
need arm-none-eabi-size "arm-none-eabi binutils" binutils-arm-none-eabi
need qemu-system-arm "runs the firmware" qemu-system-arm
need protoc "generates the nanopb code" protobuf-compiler
need protoc-gen-nanopb "nanopb's generator" nanopb
need python3 "reads flctl --json" python3
need timeout "bounds each step" coreutils
BIN_COORD="$ROOT/coordinator/coordinator"
BIN_FLCTL="$ROOT/coordinator/flctl"
BIN_FLEET="$ROOT/sim/net_fleet"
BIN_GATEWAY="$ROOT/client/gateway/fedtiny_gateway"
for b in "$BIN_COORD" "$BIN_FLCTL" "$BIN_FLEET" "$BIN_GATEWAY"; do [[ -x "$b" ]] || fail "$b missing (test data)"; done

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
wait_for() {  # seconds, file, pattern: waits until the file holds the pattern
  local until=$(($(date +%s) + $1))
  while ! grep -q "$3" "$2" 2>/dev/null; do
    (($(date +%s) < until)) || return 1
    sleep 0.2
  done
}

# 1. The trust directory, and the firmware provisioned with its targets (release)
# key: partial verification trusts that one key (docs/security.md, "On
# microcontrollers"). Its id from `flctl keys show`, its DER SubjectPublicKeyInfo
# from the private key file online/<id>.pem; the id must be the SPKI's SHA-256.
need openssl "extracts the targets key's public half" openssl
"$BIN_FLCTL" keys init --dir="$WORK/keys" >/dev/null || fail "flctl keys init failed"
"$BIN_FLCTL" keys show --dir="$WORK/keys" >"$WORK/keys.txt" || fail "flctl keys show failed"
key_of() { awk -v role="$1" '$1 == role && $2 == "(threshold" { getline; print $1; exit }' "$WORK/keys.txt"; }
spki_of() { openssl pkey -in "$WORK/keys/online/$1.pem" -pubout -outform DER | od -An -v -tx1 | tr -d ' \n'; }
TARGETS_KEY_ID=$(key_of targets)
[[ -n "$TARGETS_KEY_ID" && -f "$WORK/keys/online/$TARGETS_KEY_ID.pem" ]] \
  || fail "no targets key in the trust directory: $(cat "$WORK/keys.txt")"
TARGETS_KEY_SPKI=$(spki_of "$TARGETS_KEY_ID")
[[ "$(openssl pkey -in "$WORK/keys/online/$TARGETS_KEY_ID.pem" -pubout -outform DER | sha256sum | cut -d' ' -f1)" \
   == "$TARGETS_KEY_ID" ]] \
  || fail "the targets key's id is not the SHA-256 of its SPKI"
log "provisioning the firmware with the targets key $TARGETS_KEY_ID"
t0=$(now)
DEBSRC="${FEDTINY_DEBSRC:-${HOME}/.cache/fedtiny/debsrc}"
# Each build gets a fresh 32-byte seed for its device key's DRBG: QEMU's board
# has no TRNG (tools/cross/mcu/board_entropy.h). Each run is a first boot (QEMU
# keeps no flash), so every run enrolls a new key: one device id per run.
build_firmware() {  # key id, SPKI hex, device id, population, tamper (ON/OFF)
  cmake -S "$CROSS" -B "$WORK/m4" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$CROSS/cortex-m4.cmake" \
    -DFEDTINY_MCU=ON -DFEDTINY_DEBSRC_DIR="$DEBSRC" -DFEDTINY_MCU_DEVICE_ID="$3" \
    -DFEDTINY_MCU_POPULATION="$4" -DFEDTINY_MCU_TARGETS_KEY_ID="$1" \
    -DFEDTINY_MCU_TARGETS_KEY_SPKI="$2" -DFEDTINY_MCU_ENTROPY_SEED="$(openssl rand -hex 32)" \
    -DFEDTINY_MCU_TAMPER_CIPHERTEXT="$5" && cmake --build "$WORK/m4" --target mcu_device -- -j2
}
if ! build_firmware "$TARGETS_KEY_ID" "$TARGETS_KEY_SPKI" mcu-qemu-1 mcu-round OFF >"$WORK/build.log" 2>&1; then
  grep -E "error|Error|not found" "$WORK/build.log" | head -20 >&2
  fail "the firmware build failed (log above; full log $WORK/build.log)"
fi
ELF="$WORK/m4/mcu/mcu_device.elf"
log "built the firmware in $(since "$t0") s (configure + compile + link)"
# By section: Berkeley-style `size` would count the NOLOAD .flash_store as bss.
log "sections (.text = code + read-only data, in flash; .data + .bss = static RAM;" \
    ".flash_store = the bundle's area in flash, NOLOAD, not RAM; heap and stack: the firmware's RAM line):"
arm-none-eabi-size -A "$ELF" | awk '$1 ~ /^\.(text|ARM\.exidx|data|bss|flash_store)$/ { printf "  %-12s %8d bytes at 0x%08x\n", $1, $2, $3 }'

# 2. The coordinator (signing every version: net_fleet's devices verify them) and the task.
# Encrypted bundles (the coordinator's default): devices enroll, then each
# assignment carries the bundle's model key wrapped to the device's key.
"$BIN_COORD" --data_dir="$WORK/data" --port=0 --trust_dir="$WORK/keys" >"$WORK/coordinator.out" 2>"$WORK/coordinator.log" &
PIDS+=($!)
wait_for 30 "$WORK/coordinator.out" "listening on" || fail "the coordinator did not start: $(tail -5 "$WORK/coordinator.log")"
PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/coordinator.out")
[[ -n "$PORT" ]] || fail "the coordinator is not on 127.0.0.1: $(cat "$WORK/coordinator.out")"
SERVER="127.0.0.1:$PORT"
export FLCTL_TOKEN="$(cat "$WORK/data/admin.token")"
flctl() { "$BIN_FLCTL" --insecure --server="$SERVER" "$@"; }
flctl model init --widths=784,16,10 --body_layers=1 --out="$WORK/model.pb" >/dev/null
flctl task create --config="$CROSS/mcu/mcu_task.textproto" --model="$WORK/model.pb" >/dev/null \
  || fail "task create failed"

# 3. The microcontroller: QEMU holds the guest until the gateway connects (wait=on).
QEMU=(qemu-system-arm -M mps2-an386 -display none -monitor none
      -serial "unix:$SOCKDIR/uart0.sock,server=on,wait=on"
      -semihosting-config enable=on,target=native -kernel "$ELF")
log "run: ${QEMU[*]}" | sed "s|$WORK/||; s|$SOCKDIR|\$SOCKDIR|"
t1=$(now)
timeout 120 "${QEMU[@]}" >"$WORK/firmware.out" 2>"$WORK/qemu.err" </dev/null &
QEMU_PID=$!
PIDS+=($QEMU_PID)
for _ in $(seq 100); do [[ -S "$SOCKDIR/uart0.sock" ]] && break; sleep 0.1; done
[[ -S "$SOCKDIR/uart0.sock" ]] || fail "QEMU made no serial socket: $(cat "$WORK/qemu.err")"
"$BIN_GATEWAY" --link="unix:$SOCKDIR/uart0.sock" --server="$SERVER" --insecure 2>"$WORK/gateway.err" &
GATEWAY_PID=$!
PIDS+=($GATEWAY_PID)
wait_for 60 "$WORK/firmware.out" "assigned task" \
  || fail "the firmware got no assignment: $(cat "$WORK/firmware.out" "$WORK/gateway.err")"

# 4. The simulated devices, over gRPC, for the rest of the round's four places.
"$BIN_FLEET" --server="$SERVER" --insecure --population=mcu-round --clients=8 --uploads=3 \
  --seconds=90 --checkpoint_dir="$WORK/fleet" >"$WORK/fleet.out" 2>"$WORK/fleet.err" &
FLEET_PID=$!
PIDS+=($FLEET_PID)

rc=0
wait "$QEMU_PID" || rc=$?
log "firmware (QEMU) exited with status $rc after $(since "$t1") s:"
sed 's/^/  /' "$WORK/firmware.out"
[[ $rc == 0 ]] || fail "the firmware exited with status $rc: $(cat "$WORK/qemu.err")"
grep -q "^mcu_device: upload accepted for round 1" "$WORK/firmware.out" || fail "no accepted upload in its output"
grep -q "^mcu_device: verified the signed target mcu-round/" "$WORK/firmware.out" \
  || fail "the firmware did not say it verified its signed target"
grep -q "^mcu_device: enrolled its device key with the coordinator (it serves encrypted bundles)" \
  "$WORK/firmware.out" || fail "the firmware did not enroll its device key"
grep -q "^mcu_device: decrypted the bundle: " "$WORK/firmware.out" \
  || fail "the firmware did not say it decrypted the bundle"
ram=$(sed -n 's/^mcu_device: RAM total \([0-9]*\) bytes .*; allocations during training \(-\{0,1\}[0-9]*\)$/\1 \2/p' \
      "$WORK/firmware.out")
[[ -n "$ram" ]] || fail "no 'RAM total ... allocations during training' line in the firmware's output"
read -r ram_total ram_allocs <<<"$ram"
((ram_total <= 262144)) || fail "the firmware used $ram_total bytes of RAM, over the mcu-m4 class's 262144"
[[ $ram_allocs == 0 ]] || fail "the firmware allocated $ram_allocs times during training, not 0"
log "RAM: $ram_total bytes of 262144 (data + bss + heap + stack high-water), 0 allocations during training"
rc=0
wait "$GATEWAY_PID" || rc=$?
sed 's/^/  /' "$WORK/gateway.err"
[[ $rc == 0 ]] || fail "fedtiny_gateway exited with status $rc"
rc=0
wait "$FLEET_PID" || rc=$?
[[ $rc == 0 ]] || fail "net_fleet exited with status $rc: $(tail -5 "$WORK/fleet.err")"

# 5. What the coordinator recorded.
flctl rounds --task=mcu-round | sed 's/^/  /'
flctl devices --task=mcu-round 2>/dev/null | sed 's/^/  /'
flctl --json rounds --task=mcu-round >"$WORK/rounds.json"
flctl --json devices --task=mcu-round >"$WORK/devices.json" 2>/dev/null
python3 - "$WORK/rounds.json" "$WORK/devices.json" "$WORK/gateway.err" <<'PY' || fail "the round is not as required (above)"
import json, re, sys
rounds = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
devices = {d["device_id"]: d for d in (json.loads(l) for l in open(sys.argv[2]) if l.strip())}
errors = []
r = [x for x in rounds if x["round"] == 1]
if not r or r[0]["state"] != "committed" or r[0]["reported"] != 4:
    errors.append(f"round 1 is not committed with 4 reports: {r}")
mcu = devices.get("mcu-qemu-1")
if not mcu or mcu["device_class"] != "mcu-m4" or mcu["rounds_contributed"] != 1:
    errors.append(f"mcu-qemu-1 (mcu-m4) did not contribute to the round: {mcu}")
sims = [d for k, d in devices.items() if k.startswith("net-") and d["rounds_contributed"] == 1]
if len(sims) != 3:
    errors.append(f"{len(sims)} simulated devices contributed, not 3: {sorted(devices)}")
m = re.search(r"(\d+) frames in, (\d+) out \((\d+) errors\), (\d+) bytes dropped", open(sys.argv[3]).read())
if not m or int(m.group(1)) < 4 or m.group(1) != m.group(2) or m.group(3) != "0" or m.group(4) != "0":
    errors.append("the gateway did not relay every frame intact: " + (m.group(0) if m else "no stats line"))
for e in errors:
    print("mcu_round_test:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
# 6. The failure path: with no coordinator behind the gateway (127.0.0.1:1), the
# firmware must say why and exit non-zero, not hang or claim success. Its
# first call is Enroll (a first boot: QEMU keeps no flash).
rm -f "$SOCKDIR/uart0.sock"
timeout 60 "${QEMU[@]}" >"$WORK/firmware.fail.out" 2>"$WORK/qemu.fail.err" </dev/null &
QEMU_PID=$!
PIDS+=($QEMU_PID)
for _ in $(seq 100); do [[ -S "$SOCKDIR/uart0.sock" ]] && break; sleep 0.1; done
"$BIN_GATEWAY" --link="unix:$SOCKDIR/uart0.sock" --server=127.0.0.1:1 --insecure 2>"$WORK/gateway.fail.err" &
PIDS+=($!)
rc=0
wait "$QEMU_PID" || rc=$?
log "without a coordinator the firmware exited with status $rc:"
sed 's/^/  /' "$WORK/firmware.fail.out"
[[ $rc == 1 ]] || fail "the firmware exited with $rc, not 1, when it could not reach the coordinator"
grep -q "^mcu_device: error: enroll: code 14: " "$WORK/firmware.fail.out" \
  || fail "no UNAVAILABLE (code 14) enroll error in the firmware's output"

# Runs the firmware as built last through a gateway, as the only device of a
# task of its own: NAME (task and population, one device a round) and TAG
# (the output files' suffix: $WORK/firmware.TAG.out, qemu.TAG.err,
# gateway.TAG.err). Sets rc to the firmware's exit status.
run_alone() {
  local name=$1 tag=$2
  sed "s/^name: .*/name: \"$name\"/; s/^population: .*/population: \"$name\"/; s/^clients_per_round: .*/clients_per_round: 1/; s/^min_reports: .*/min_reports: 1/" \
    "$CROSS/mcu/mcu_task.textproto" >"$WORK/$tag.task.textproto"
  flctl task create --config="$WORK/$tag.task.textproto" --model="$WORK/model.pb" >/dev/null \
    || fail "task create ($name) failed"
  rm -f "$SOCKDIR/uart0.sock"
  timeout 60 "${QEMU[@]}" >"$WORK/firmware.$tag.out" 2>"$WORK/qemu.$tag.err" </dev/null &
  QEMU_PID=$!
  PIDS+=($QEMU_PID)
  for _ in $(seq 100); do [[ -S "$SOCKDIR/uart0.sock" ]] && break; sleep 0.1; done
  "$BIN_GATEWAY" --link="unix:$SOCKDIR/uart0.sock" --server="$SERVER" --insecure 2>"$WORK/gateway.$tag.err" &
  PIDS+=($!)
  rc=0
  wait "$QEMU_PID" || rc=$?
}

# 7. Partial verification refuses a wrong key: the firmware rebuilt with the
# snapshot key's SPKI under the targets key's id must refuse targets.pb
# ("trust:signature"), report the failure through the gateway and exit 1,
# before downloading. A task of its own, one place, gives it an assignment; a
# device id of its own, as it enrolls a key of its own.
SNAPSHOT_KEY_ID=$(key_of snapshot)
[[ -n "$SNAPSHOT_KEY_ID" ]] || fail "no snapshot key in the trust directory"
build_firmware "$TARGETS_KEY_ID" "$(spki_of "$SNAPSHOT_KEY_ID")" mcu-qemu-2 mcu-trust OFF >"$WORK/build.wrong.log" 2>&1 \
  || fail "the wrong-key firmware build failed: $(tail -5 "$WORK/build.wrong.log")"
run_alone mcu-trust wrongkey
log "provisioned with a wrong targets key the firmware exited with status $rc:"
sed 's/^/  /' "$WORK/firmware.wrongkey.out"
[[ $rc == 1 ]] || fail "the firmware exited with $rc, not 1, with a wrong targets key"
grep -q "^mcu_device: error: trust: trust:signature" "$WORK/firmware.wrongkey.out" \
  || fail "no trust:signature error in the firmware's output"
grep -q "downloaded" "$WORK/firmware.wrongkey.out" && fail "the firmware downloaded despite a bad signature"

# 8. Decryption refuses a flipped bit: the firmware rebuilt with
# FEDTINY_MCU_TAMPER_CIPHERTEXT flips one ciphertext byte after the signed
# target's length and SHA-256 matched (a fault between verification and
# decryption); AES-256-GCM's tag must refuse it, reported as trust:decrypt
# through the gateway, exit 1, no training. Before the flip, the same build
# tries the other refusals (a plain bundle, another device's key, a wrong
# wrapped key, swapped associated data, a wrong model key) on this round's data.
build_firmware "$TARGETS_KEY_ID" "$TARGETS_KEY_SPKI" mcu-qemu-3 mcu-tamper ON >"$WORK/build.tamper.log" 2>&1 \
  || fail "the tampering firmware build failed: $(tail -5 "$WORK/build.tamper.log")"
run_alone mcu-tamper tamper
log "with one ciphertext bit flipped after verification the firmware exited with status $rc:"
sed 's/^/  /' "$WORK/firmware.tamper.out"
[[ $rc == 1 ]] || fail "the firmware exited with $rc, not 1, with a flipped ciphertext bit"
grep -q "^mcu_device: error: decrypt: trust:decrypt: the bundle does not authenticate under its model key" \
  "$WORK/firmware.tamper.out" || fail "no trust:decrypt refusal in the firmware's output"
# Reported through the gateway (FailureReport): the coordinator logs the reason.
wait_for 10 "$WORK/coordinator.log" "device mcu-qemu-3 refused the model: trust:decrypt: the bundle does not" \
  || fail "the coordinator did not record mcu-qemu-3's trust:decrypt refusal: $(tail -3 "$WORK/coordinator.log")"
grep -q "trained the head\|decrypted the bundle" "$WORK/firmware.tamper.out" \
  && fail "the firmware decrypted or trained despite a flipped ciphertext bit"
# Before the flip, the same build tried every other refusal on this round's
# genuine wrapped key and bundle (tools/cross/mcu/refusal_probes.h).
for probe in "plain bundle" "other device" "wrong key" "scope swapped" "binding swapped" "relabelled" \
             "wrong model key"; do
  grep -q "^mcu_device: refusal probe $probe: refused as required: trust:decrypt: " "$WORK/firmware.tamper.out" \
    || fail "the refusal probe '$probe' was not refused as required"
done

log "PASS: mcu-qemu-1 (Cortex-M4 under QEMU) and 3 simulated devices reported in committed round 1" \
    "($(since "$t0") s in all)"
