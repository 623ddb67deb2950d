#!/usr/bin/env python3
"""Write N float32 values that look like sensor readings, for the quantile sketch benchmark.

Usage: make_values.py OUT N SEED

OUT is written as raw little-endian float32 (4 * N bytes, no header), the format kll_peer.py and
`tributary-bench` read. The values are a mixture resembling an accelerometer magnitude stream:
  - 95 %: normal around 9.81 (gravity, m/s^2) with standard deviation 0.5 (sensor noise, small movements)
  - 5 %: uniform on [0, 39.24] (0 .. 4 g: shocks, drops, glitches), a flat tail on both sides of the peak
The same OUT, N and SEED always give the same file (numpy's default_rng, generated in fixed-size chunks).
"""
import sys

import numpy as np

NORMAL_MEAN = 9.81
NORMAL_SD = 0.5
TAIL_FRACTION = 0.05
TAIL_LOW, TAIL_HIGH = 0.0, 4 * 9.81
CHUNK = 1 << 22  # values generated per step, so memory stays bounded for any N


def main(argv):
    if len(argv) != 4:
        print("usage: make_values.py OUT N SEED", file=sys.stderr)
        return 2
    out, n, seed = argv[1], int(argv[2]), int(argv[3])
    if n < 0:
        print("N must be >= 0", file=sys.stderr)
        return 2
    rng = np.random.default_rng(seed)
    with open(out, "wb") as f:
        left = n
        while left > 0:
            m = min(CHUNK, left)
            in_tail = rng.random(m) < TAIL_FRACTION
            normal = rng.normal(NORMAL_MEAN, NORMAL_SD, m)
            tail = rng.uniform(TAIL_LOW, TAIL_HIGH, m)
            np.where(in_tail, tail, normal).astype("<f4").tofile(f)
            left -= m
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
