#!/usr/bin/env bash
# The simulator over Open MPI commits bit-identical models with 1, 2 and 4
# ranks, and the same models as the single-process simulator: for the robust
# default (NNM + geometric median under 20% sign-flip attackers) on LEAF
# Synthetic, for FedAvg with two cluster heads on the real Fashion-MNIST, and
# for an asynchronous (FedBuff) task. mpirun runs every rank on this machine;
# Open MPI's own channels stay on loopback and shared memory.
set -euo pipefail
SIM="$1"
SIM_MPI="$2"
export HOME="${TEST_TMPDIR:-/tmp}"   # Open MPI writes its session folder under TMPDIR/HOME.
export TMPDIR="${TEST_TMPDIR:-/tmp}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
MPIRUN=(mpirun --oversubscribe --bind-to none
        --mca btl self,vader --mca oob_tcp_if_include lo --mca btl_tcp_if_include lo)
[[ "$(id -u)" == 0 ]] && MPIRUN+=(--allow-run-as-root)
command -v mpirun >/dev/null || { echo "FAIL: mpirun missing (tools/setup installs openmpi-bin)"; exit 1; }

fail() { echo "FAIL: $*"; exit 1; }

# The committed model hashes a run printed ("committed model sha256: cluster C HEX").
hashes() { grep '^committed model sha256:' "$1" || true; }

check() {  # name, flags...
  local name="$1"; shift
  local flags=("$@" --quiet --blas_threads=1 --threads=1)
  "$SIM" "${flags[@]}" --out="$work/$name-sim" >"$work/$name-sim.txt" 2>"$work/$name-sim.err" ||
    { cat "$work/$name-sim.err"; fail "$name: sim failed"; }
  local want
  want="$(hashes "$work/$name-sim.txt")"
  [[ -n "$want" ]] || fail "$name: sim printed no model hash"
  grep -q '^final test accuracy' "$work/$name-sim.txt" || fail "$name: sim printed no accuracy"
  for n in 1 2 4; do
    # Under tools/test --asan, LeakSanitizer reports what Open MPI's own
    # components keep until exit (libmpi, its dlopen'ed MCA plugins); the ranks
    # run with leak detection off (address errors still abort them), while the
    # plain sim above keeps it.
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    "${MPIRUN[@]}" -x ASAN_OPTIONS -np "$n" "$SIM_MPI" "${flags[@]}" --out="$work/$name-$n" \
      >"$work/$name-$n.txt" 2>"$work/$name-$n.err" ||
      { tail -20 "$work/$name-$n.err"; fail "$name: sim_mpi -np $n failed"; }
    local line
    line="$(grep "^ranks: $n; peak memory per rank" "$work/$name-$n.txt")" ||
      fail "$name: -np $n did not run $n ranks"
    # Every rank trained devices of its own shard.
    local counts=(${line##*devices trained per rank: })
    [[ ${#counts[@]} == "$n" ]] || fail "$name: $n ranks but ${#counts[@]} counts: $line"
    for k in "${counts[@]}"; do
      (( k > 0 )) || fail "$name: a rank trained no device: $line"
    done
    local got
    got="$(hashes "$work/$name-$n.txt")"
    if [[ "$got" != "$want" ]]; then
      echo "sim:"; echo "$want"; echo "sim_mpi -np $n:"; echo "$got"
      fail "$name: models differ with $n ranks"
    fi
    # Same accuracy line too (the leader evaluates the same models).
    diff <(grep '^final test accuracy' "$work/$name-sim.txt" | sed 's/ in .*//') \
         <(grep '^final test accuracy' "$work/$name-$n.txt" | sed 's/ in .*//') ||
      fail "$name: accuracy differs with $n ranks"
    echo "ok: $name, $n ranks (trained ${counts[*]}): $(echo "$got" | wc -l) model(s) identical to sim"
  done
}

check robust-synthetic --dataset=synthetic --clients=3000 --per_round=60 --rounds=4 \
  --personalize_devices=0
check fedavg-clusters-fmnist --clients=200 --per_round=20 --rounds=2 --pretrain_epochs=1 \
  --aggregator=fedavg --attackers=0 --clusters=2 --cluster_groups=2 --personalize_devices=0 \
  --heterogeneous=false
check async-synthetic --dataset=synthetic --clients=2000 --per_round=20 --rounds=4 \
  --async_concurrency=40 --async_buffer=10 --aggregator=fedavg --attackers=0 \
  --personalize_devices=0
echo PASS
