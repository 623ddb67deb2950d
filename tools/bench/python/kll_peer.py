#!/usr/bin/env python3
"""Peer for the quantile sketch benchmark: Apache DataSketches' KLL sketch (PyPI `datasketches`).

Usage: kll_peer.py INPUT K [TRIALS]

INPUT is a raw little-endian float32 file (no header; make_values.py writes one), K the KLL parameter (e.g. 200).

1. Loads all values with numpy (not timed).
2. Times the bulk update of a kll_floats_sketch(K) with the whole array: datasketches' update() has an overload
   taking a float32 numpy array, which loops over the values in C++, so no Python loop is timed.
3. Rank error: for 1000 evenly spaced ranks q = (i + 0.5) / 1000, i = 0..999, takes the sketch's
   get_quantile(q, inclusive=True) and computes the exact normalized rank of that value in the sorted data, i.e. the
   fraction of values <= it (numpy searchsorted, side="right"); reports max |exact_rank - q|.
4. Reports the sketch's retained item count (num_retained) and serialized size in bytes (len(serialize())).

With TRIALS > 1 (default 1), builds that many sketches (each with its own random compaction choices) and reports
the median update time and the median max rank error over them, plus the spread of the error, since a single
sketch's error is a random variable.

Prints one line: "items=N seconds=S retained=R bytes=B max_rank_error=E k=K trials=T min_error=A max_error=B".
Run with the benchmark venv (see README.md): tools/.venv-bench/bin/python tools/bench/python/kll_peer.py INPUT K
"""
import sys
import time

import numpy as np
from datasketches import kll_floats_sketch

QUERIES = 1000


def main(argv):
    if len(argv) not in (3, 4):
        print("usage: kll_peer.py INPUT K [TRIALS]", file=sys.stderr)
        return 2
    path, k = argv[1], int(argv[2])
    trials = int(argv[3]) if len(argv) == 4 else 1

    values = np.ascontiguousarray(np.fromfile(path, dtype="<f4"), dtype=np.float32)
    n = values.size
    if n == 0:
        print(f"{path}: no values", file=sys.stderr)
        return 2
    if not np.isfinite(values).all():
        # KLL skips NaN, so exact and sketched ranks would be over different sets.
        print(f"{path}: contains NaN or infinite values", file=sys.stderr)
        return 2

    ordered = np.sort(values)
    ranks = (np.arange(QUERIES, dtype=np.float64) + 0.5) / QUERIES
    times, errors = [], []
    for _ in range(trials):
        sketch = kll_floats_sketch(k)
        start = time.perf_counter()
        sketch.update(values)
        times.append(time.perf_counter() - start)
        if sketch.n != n:
            print(f"sketch saw {sketch.n} values, expected {n}", file=sys.stderr)
            return 1
        answers = np.array([sketch.get_quantile(float(q), True) for q in ranks], dtype=np.float32)
        exact = np.searchsorted(ordered, answers, side="right") / n
        errors.append(float(np.max(np.abs(exact - ranks))))

    retained = sketch.num_retained
    size = len(sketch.serialize())
    print(f"items={n} seconds={float(np.median(times)):.6f} retained={retained} bytes={size} "
          f"max_rank_error={float(np.median(errors)):.6f} k={k} trials={trials} "
          f"min_error={min(errors):.6f} max_error={max(errors):.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
