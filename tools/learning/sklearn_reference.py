#!/usr/bin/env python3
"""Batch reference for leave-one-subject-out (LOSO) accuracy: scikit-learn StandardScaler + LogisticRegression.

Usage: sklearn_reference.py FEATURES_CSV

FEATURES_CSV has a header row `subject,label,f0,f1,...` and one row per window: the subject id (integer), the
class label (integer), then the window's features (floats). For each subject S, in increasing id order:
  - fits a pipeline StandardScaler() -> LogisticRegression(max_iter=2000) on the windows of all other subjects
    (lbfgs, L2 with C = 1; with more than two classes this is the multinomial / softmax model, scikit-learn's only
    multiclass mode for lbfgs since 1.5),
  - predicts S's windows and takes the fraction predicted correctly.
Each subject's result goes to stderr as `subject=S windows=W accuracy=A` (followed by ` converged=no` if lbfgs hit
max_iter). One line goes to stdout at the end:
  model=sklearn-logreg subjects=K mean_accuracy=A min_accuracy=B max_accuracy=C windows=N
mean_accuracy is the unweighted mean of the K per-subject accuracies (every subject counts the same however many
windows it has); windows is the number of data rows in the file.

Run with the benchmark venv (see README.md):
  tools/.venv-bench/bin/python tools/learning/sklearn_reference.py features.csv
"""
import sys
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def load(path):
    """Returns (subjects int64 [N], labels int64 [N], features float64 [N, F])."""
    with open(path, newline="") as f:
        header = [h.strip() for h in f.readline().strip().split(",")]
    if len(header) < 3 or header[0] != "subject" or header[1] != "label":
        raise ValueError(f"{path}: header must be subject,label,f0,f1,... (got {','.join(header[:3])},...)")
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    if data.shape[0] == 0:
        raise ValueError(f"{path}: no data rows")
    if data.shape[1] != len(header):
        raise ValueError(f"{path}: rows have {data.shape[1]} columns, header has {len(header)}")
    if not np.isfinite(data).all():
        raise ValueError(f"{path}: contains NaN or infinite values")
    ids = data[:, :2]
    if (ids != np.round(ids)).any():
        raise ValueError(f"{path}: subject and label must be integers")
    return ids[:, 0].astype(np.int64), ids[:, 1].astype(np.int64), data[:, 2:]


def main(argv):
    if len(argv) != 2:
        print("usage: sklearn_reference.py FEATURES_CSV", file=sys.stderr)
        return 2
    path = argv[1]
    try:
        subjects, labels, features = load(path)
    except (OSError, ValueError) as e:
        print(e, file=sys.stderr)
        return 2
    ids = np.unique(subjects)
    if ids.size < 2:
        print(f"{path}: need at least two subjects for leave-one-subject-out, found {ids.size}", file=sys.stderr)
        return 2

    accuracies = []
    for s in ids:
        test = subjects == s
        train = ~test
        if np.unique(labels[train]).size < 2:
            print(f"subject={s}: the other subjects have fewer than two classes, cannot fit", file=sys.stderr)
            return 1
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(features[train], labels[train])
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        accuracy = float(np.mean(model.predict(features[test]) == labels[test]))
        accuracies.append(accuracy)
        note = "" if converged else " converged=no"
        print(f"subject={s} windows={int(test.sum())} accuracy={accuracy:.6f}{note}", file=sys.stderr)

    acc = np.array(accuracies)
    print(f"model=sklearn-logreg subjects={ids.size} mean_accuracy={acc.mean():.6f} "
          f"min_accuracy={acc.min():.6f} max_accuracy={acc.max():.6f} windows={labels.size}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
