#!/usr/bin/env python3
"""Compares a target's selftest output with the host's (tools/cross/cross_targets_test.sh).

Usage: compare_outputs.py HOST_OUT TARGET_OUT TARGET_NAME
Lines `v <name> <index> <hex bits>`: `exact_*` names must match bit for bit; every
other value within 1e-6 of the largest magnitude of its tensor on the host (different
SIMD widths sum in different orders, FMA targets fuse, newlib's expf/logf are not
glibc's: a few ulps, and elementwise relative error is meaningless for a value that
is the small difference of large terms). Prints one summary line; exits 1 on a mismatch.
"""
import struct
import sys

TOLERANCE = 1e-6


def load(path):
    values = {}
    for line in open(path, encoding="utf-8", errors="replace"):
        parts = line.split()
        if len(parts) == 4 and parts[0] == "v":
            bits = int(parts[3], 16)
            values[(parts[1], int(parts[2]))] = (bits, struct.unpack("<f", struct.pack("<I", bits))[0])
    return values


def main():
    host_path, target_path, name = sys.argv[1:4]
    host, target = load(host_path), load(target_path)
    if not host:
        print(f"compare: {name}: no values in the host's output")
        return 1
    errors = []
    missing = sorted(set(host) - set(target))
    extra = sorted(set(target) - set(host))
    if missing:
        errors.append(f"{len(missing)} values missing, first {missing[0][0]}[{missing[0][1]}]")
    if extra:
        errors.append(f"{len(extra)} values the host does not print, first {extra[0][0]}[{extra[0][1]}]")
    scale = {}
    for (tensor, _), (_, v) in host.items():
        scale[tensor] = max(scale.get(tensor, 0.0), abs(v))
    exact = 0
    worst_tensor = (0.0, None)
    worst_elem = (0.0, None)
    for key in sorted(set(host) & set(target)):
        (hb, hv), (tb, tv) = host[key], target[key]
        if hb == tb:
            exact += 1
            continue
        where = f"{key[0]}[{key[1]}] host {hv:.9g} ({hb:08x}) {name} {tv:.9g} ({tb:08x})"
        if key[0].startswith("exact_"):
            errors.append(f"bits differ in {where}")
            continue
        diff = abs(hv - tv)
        if diff != diff:  # NaN on one side only
            errors.append(f"NaN in {where}")
            continue
        rel_tensor = diff / max(scale[key[0]], 1e-30)
        rel_elem = diff / max(abs(hv), abs(tv), 1e-30)
        if rel_tensor > worst_tensor[0]:
            worst_tensor = (rel_tensor, where)
        if rel_elem > worst_elem[0]:
            worst_elem = (rel_elem, where)
        if rel_tensor > TOLERANCE:
            errors.append(f"{where}: {rel_tensor:.3g} of the tensor's largest magnitude > {TOLERANCE}")
    n = len(host)
    print(f"compare: {name}: {n} values, {exact} bit-exact "
          f"({sum(1 for k in host if k[0].startswith('exact_'))} required exact), "
          f"worst {worst_tensor[0]:.3g} of tensor scale, worst elementwise {worst_elem[0]:.3g}"
          + (f" at {worst_elem[1]}" if worst_elem[1] else ""))
    for e in errors[:10]:
        print(f"compare: {name}: MISMATCH {e}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
