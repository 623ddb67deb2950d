#!/usr/bin/env python3
"""Write a synthetic per-window features CSV (the format sklearn_reference.py reads), for testing.

Usage: make_synthetic_features.py OUT [SUBJECTS [CLASSES [FEATURES [WINDOWS [SEED]]]]]
Defaults: 10 subjects, 7 classes, 36 features, 40 windows per subject and class, seed 1.

Writes a header `subject,label,f0,...,f{FEATURES-1}` and SUBJECTS * CLASSES * WINDOWS rows, with subject ids
1..SUBJECTS and labels 0..CLASSES-1. It mimics activity-recognition features with between-subject differences:
  - each class has a mean pattern m_c ~ N(0, 1)^F (shared by all subjects),
  - each subject has its own offset o_s ~ N(0, 0.6^2)^F, gain g_s ~ U(0.7, 1.3) and per-class deviation
    d_sc ~ N(0, 0.4^2)^F (how that subject does the activity differently),
  - a window is x = g_s * (m_c + d_sc) + o_s + e, with e ~ N(0, 1.5^2)^F,
so a model trained on other subjects sees a shifted, rescaled version of the held-out subject: LOSO accuracy is
well above chance (1 / CLASSES) but below 100 %. The same arguments always give the same file.
"""
import sys

import numpy as np


def main(argv):
    if not 2 <= len(argv) <= 7:
        print("usage: make_synthetic_features.py OUT [SUBJECTS [CLASSES [FEATURES [WINDOWS [SEED]]]]]",
              file=sys.stderr)
        return 2
    out = argv[1]
    defaults = [10, 7, 36, 40, 1]
    subjects, classes, features, windows, seed = [int(a) for a in argv[2:]] + defaults[len(argv) - 2:]
    if subjects < 1 or classes < 2 or features < 1 or windows < 1:
        print("need SUBJECTS >= 1, CLASSES >= 2, FEATURES >= 1, WINDOWS >= 1", file=sys.stderr)
        return 2
    rng = np.random.default_rng(seed)
    means = rng.normal(0.0, 1.0, (classes, features))
    with open(out, "w") as f:
        f.write("subject,label," + ",".join(f"f{i}" for i in range(features)) + "\n")
        for s in range(1, subjects + 1):
            offset = rng.normal(0.0, 0.6, features)
            gain = rng.uniform(0.7, 1.3)
            for c in range(classes):
                pattern = gain * (means[c] + rng.normal(0.0, 0.4, features)) + offset
                x = pattern + rng.normal(0.0, 1.5, (windows, features))
                for row in x:
                    f.write(f"{s},{c}," + ",".join(f"{v:.6g}" for v in row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
