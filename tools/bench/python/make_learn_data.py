#!/usr/bin/env python3
"""Write a synthetic binary classification problem in the TLRN format, for the online learning benchmark.

Usage: make_learn_data.py OUT N D SEED [PROBLEM]

TLRN format (little-endian throughout; `tributary-bench learn` writes the same):
  bytes 0..3   magic b"TLRN"
  u32          version = 1
  u32          N, the number of rows
  u32          D, the number of features per row
  u32          C, the number of classes (2 here)
  then N rows, each: f32 label (class index as a float: 0.0 or 1.0 here), then D f32 features.

The problem is linear with label noise near the boundary: one weight vector w ~ N(0, 1)^D is drawn, then for each
row x ~ N(0, 1)^D and label = 1 if w.x + 0.5 * |w| * e > 0 else 0, with e ~ N(0, 1). The noise is scaled by |w| so
that its share does not depend on D: the Bayes accuracy is about 1 - atan(0.5) / pi, i.e. about 85 %.
w is drawn from its own generator seeded with PROBLEM (default 0), and the rows from one seeded with SEED, so two
files with the same D and PROBLEM but different SEEDs are independent samples of the same problem, e.g. a training
and a test set:
  make_learn_data.py train.tlrn 1000000 32 1
  make_learn_data.py test.tlrn 100000 32 2
The same arguments always give the same file (numpy's default_rng, rows generated in fixed-size chunks).
"""
import struct
import sys

import numpy as np

MAGIC = b"TLRN"
VERSION = 1
CLASSES = 2
NOISE = 0.5
CHUNK_VALUES = 1 << 22  # float32 values generated per step, so memory stays bounded for any N


def main(argv):
    if len(argv) not in (5, 6):
        print("usage: make_learn_data.py OUT N D SEED [PROBLEM]", file=sys.stderr)
        return 2
    out, n, d, seed = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    problem = int(argv[5]) if len(argv) == 6 else 0
    if n < 0 or d < 1 or n >= 1 << 32 or d >= 1 << 32:
        print("need 0 <= N < 2^32 and 1 <= D < 2^32", file=sys.stderr)
        return 2
    w = np.random.default_rng(problem).normal(0.0, 1.0, d)
    rng = np.random.default_rng(seed)
    noise_scale = NOISE * float(np.linalg.norm(w))
    rows_per_chunk = max(1, CHUNK_VALUES // (d + 1))
    with open(out, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<4I", VERSION, n, d, CLASSES))
        left = n
        while left > 0:
            m = min(rows_per_chunk, left)
            x = rng.normal(0.0, 1.0, (m, d)).astype(np.float32)
            score = x.astype(np.float64) @ w + noise_scale * rng.normal(0.0, 1.0, m)
            block = np.empty((m, d + 1), dtype="<f4")
            block[:, 0] = (score > 0).astype(np.float32)
            block[:, 1:] = x
            block.tofile(f)
            left -= m
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
