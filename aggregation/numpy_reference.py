#!/usr/bin/python3
"""numpy (+ Debian's OpenBLAS) timings of what aggregation_benchmark measures, so
that the two can be recorded side by side in docs/benchmarks.md. Same shapes and
the same semantics where numpy has them: FedAvg as a weighted mean in float64,
coordinate-wise median, trimmed mean (drop floor(beta n) per side, after np.sort
or after np.partition as scipy.stats.trim_mean does), and the
centred float64 Gram matrix of Krum/Bulyan/NNM (numpy turns A @ A.T into syrk),
plus the float32 X @ X.T a numpy user would write. Prints CPU ms per call (the
best of `--repeat` runs) and the CPU model. Single-threaded unless
OPENBLAS_NUM_THREADS says otherwise:
  OPENBLAS_NUM_THREADS=1 taskset -c 1 /usr/bin/python3 aggregation/numpy_reference.py
"""
import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402  (after the thread setting, which numpy reads at import)


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def best_ms(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best * 1e3


def fedavg(x, w):
    return (w[:, None] * x.astype(np.float64)).sum(axis=0) / w.sum()


def trimmed_mean(x, beta):
    k = int(beta * x.shape[0])
    s = np.sort(x, axis=0)
    return s[k:x.shape[0] - k].mean(axis=0)


def trimmed_mean_partition(x, beta):
    # As scipy.stats.trim_mean: np.partition at the two cuts, then the mean.
    n = x.shape[0]
    k = int(beta * n)
    p = np.partition(x, (k, n - k - 1), axis=0)
    return p[k:n - k].mean(axis=0)


def centred_gram(x):
    c = x.astype(np.float64)
    c -= c.mean(axis=0)
    return c @ c.T


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--gram_only", action="store_true")
    args = p.parse_args()
    print(f"cpu_model: {cpu_model()}  numpy {np.__version__}  "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}  "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    rng = np.random.default_rng(1)
    for n, d in [] if args.gram_only else [(100, 10000), (1000, 10000), (100, 1000000)]:
        x = rng.standard_normal((n, d), dtype=np.float32)
        w = 1.0 + (np.arange(n) % 7)
        for name, fn in [("fedavg", lambda: fedavg(x, w)),
                         ("median", lambda: np.median(x, axis=0)),
                         ("trimmed_mean(beta=0.1) np.sort", lambda: trimmed_mean(x, 0.1)),
                         ("trimmed_mean(beta=0.1) np.partition",
                          lambda: trimmed_mean_partition(x, 0.1))]:
            print(f"{name}/n:{n}/d:{d}  {best_ms(fn, args.repeat):.1f} ms")
    for n in (100, 1000):
        x = rng.standard_normal((n, 100000), dtype=np.float32)
        print(f"gram(centred float64)/n:{n}/d:100000  "
              f"{best_ms(lambda: centred_gram(x), args.repeat):.1f} ms")
        print(f"x @ x.T (float32)/n:{n}/d:100000  "
              f"{best_ms(lambda: x @ x.T, args.repeat):.1f} ms")


if __name__ == "__main__":
    main()
