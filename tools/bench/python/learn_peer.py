#!/usr/bin/env python3
"""Peer for the online learning benchmark: Vowpal Wabbit or River online logistic regression on TLRN data.

Usage: learn_peer.py IMPL TRAIN TEST [--limit ROWS] [--vw-input cache|text] [--workdir DIR]

IMPL is `vw` or `river`. TRAIN and TEST are TLRN files (format in make_learn_data.py; `tributary-bench learn`
writes the same). Only binary problems (C = 2, labels 0.0 / 1.0) are accepted. With --limit ROWS only the first
ROWS rows of TRAIN are learned (and reported as samples); TEST is always used whole.

Prints one line on stdout:
  impl=I samples=N seconds=S accuracy=A features=D [input=cache|text]
samples = training rows learned, seconds = wall time of the single training pass only (time.perf_counter),
accuracy = hold-out accuracy on TEST of the model after that pass, features = D. `input` is printed for vw only.
Progress notes go to stderr.

vw: Vowpal Wabbit (PyPI `vowpalwabbit`), run through VW's own C++ driver loop.
  What the PyPI package ships (checked with vowpalwabbit 9.11.9): no `vw` executable and no console-script entry
  point; `python -m vowpalwabbit ARGS` only constructs `Workspace(arg_list=ARGS)`. The compiled extension
  `pylibvw` exposes `vw(args)` (VW::initialize on a command line), `run_parser()` and `finish()`. `run_parser()`
  is VW::start_parser + VW::LEARNER::generic_driver + VW::end_parser, i.e. the same C++ calls the `vw` command's
  main() makes between initialize and finish: VW's parser thread reads the input file and the learner thread
  learns every example, with no Python per example. (`Workspace("--data F ...")` does the same inside its
  constructor; this script calls the binding directly so that the timer covers only run_parser(), not option
  parsing and weight allocation, which take a few milliseconds.)
  Untimed preparation: TRAIN is converted to VW text format in a temporary directory, one line per row,
  `1 |f 0:x0 1:x1 ...` (label -1 / +1, feature i named `i`, values printed with %.9g so each float32 round-trips
  exactly). With --vw-input cache (default) VW then turns that text into its binary cache file (a `-t` run, which
  parses and writes the cache without learning) and the timed pass reads the cache, VW's fastest input path;
  --vw-input text times the pass over the text file instead, parsing included. The input file is fsync'ed before
  the timer starts (it stays in the page cache), so disk write-back does not run during the timed pass.
  Timed: one run_parser() pass with `--loss_function logistic --holdout_off --quiet` and otherwise VW's defaults
  (adaptive, normalized, invariant SGD updates, learning rate 0.5, power_t 0.5, 18 hash bits, constant feature
  on, one pass); the model is written with -f at finish(), after the timer stops.
  Accuracy: a second VW run `-t -i MODEL -d TEST.vw -p PREDS` predicts TEST through the same C++ driver; class 1
  when the raw score is > 0, else class 0.

river: `river.linear_model.LogisticRegression()` with its defaults (SGD, learning rate 0.01, log loss, intercept
  learning rate 0.01). The feature dicts ({i: float}) and bool labels are built before the timer starts; the timed
  loop is only `learn_one(x, y)` calls, once per training row, in order. Accuracy: `predict_one(x)` over TEST.

Run with the benchmark venv (see README.md):
  tools/.venv-bench/bin/python tools/bench/python/learn_peer.py vw TRAIN TEST
"""
import argparse
import os
import struct
import sys
import tempfile
import time

import numpy as np

MAGIC = b"TLRN"
VERSION = 1
HEADER = struct.Struct("<4s4I")


def read_tlrn(path, limit=None):
    """Returns (labels float32 [N], features float32 [N, D], classes); reads only the first `limit` rows if set."""
    with open(path, "rb") as f:
        head = f.read(HEADER.size)
        if len(head) != HEADER.size:
            raise ValueError(f"{path}: shorter than the TLRN header")
        magic, version, n, d, c = HEADER.unpack(head)
        if magic != MAGIC:
            raise ValueError(f"{path}: bad magic {magic!r}, expected {MAGIC!r}")
        if version != VERSION:
            raise ValueError(f"{path}: TLRN version {version}, expected {VERSION}")
        if d < 1:
            raise ValueError(f"{path}: D = {d}, need at least one feature")
        expected = HEADER.size + 4 * n * (d + 1)
        size = os.fstat(f.fileno()).st_size
        if size != expected:
            raise ValueError(f"{path}: {size} bytes, header (N={n}, D={d}) says {expected}")
        rows = n if limit is None else min(n, limit)
        data = np.fromfile(f, dtype="<f4", count=rows * (d + 1)).reshape(rows, d + 1)
    labels = np.ascontiguousarray(data[:, 0])
    features = np.ascontiguousarray(data[:, 1:])
    return labels, features, c


def check_binary(path, labels, classes):
    if classes != 2:
        raise ValueError(f"{path}: C = {classes}; only binary problems (C = 2) are supported")
    bad = ~((labels == 0.0) | (labels == 1.0))
    if bad.any():
        raise ValueError(f"{path}: label {labels[bad][0]} at row {int(np.argmax(bad))} is not 0 or 1")


# ---------------------------------------------------------------- vw


def write_vw_text(path, labels, features):
    d = features.shape[1]
    fmt = "%d |f " + " ".join(f"{i}:%.9g" for i in range(d)) + "\n"
    signs = np.where(labels > 0.5, 1, -1)
    chunk = 65536
    with open(path, "w", buffering=1 << 20) as f:
        for start in range(0, len(labels), chunk):
            ys = signs[start:start + chunk].tolist()
            xs = features[start:start + chunk].tolist()
            f.write("".join([fmt % (y, *x) for y, x in zip(ys, xs)]))


def flush_to_disk(path):
    """fsync a freshly written file, so that the kernel's write-back of it does not overlap the timed pass."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def vw_run(args):
    """One pass of VW's C++ driver over the input named in args; returns (wall time of the pass, examples seen)."""
    import pylibvw  # the compiled extension that vowpalwabbit.Workspace wraps

    vw = pylibvw.vw(args)
    start = time.perf_counter()
    vw.run_parser()
    seconds = time.perf_counter() - start
    examples = vw.get_weighted_examples()  # every example has weight 1
    vw.finish()
    return seconds, examples


def run_vw(train_labels, train_x, test_labels, test_x, vw_input, workdir):
    with tempfile.TemporaryDirectory(prefix="learn_peer_vw_", dir=workdir) as tmp:
        train_txt = os.path.join(tmp, "train.vw")
        train_cache = os.path.join(tmp, "train.cache")
        test_txt = os.path.join(tmp, "test.vw")
        model = os.path.join(tmp, "model.vw")
        preds = os.path.join(tmp, "preds.txt")

        t0 = time.perf_counter()
        write_vw_text(train_txt, train_labels, train_x)
        write_vw_text(test_txt, test_labels, test_x)
        print(f"vw: wrote text files in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

        if vw_input == "cache":
            t0 = time.perf_counter()
            vw_run(["--quiet", "-t", "-d", train_txt, "--cache_file", train_cache])
            os.remove(train_txt)
            print(f"vw: wrote cache ({os.path.getsize(train_cache)} bytes) in {time.perf_counter() - t0:.1f} s",
                  file=sys.stderr)
            source = ["--cache_file", train_cache]
        else:
            source = ["-d", train_txt]
        flush_to_disk(source[1])

        seconds, seen = vw_run(["--quiet", *source, "--loss_function", "logistic", "--holdout_off", "-f", model])
        if seen != len(train_labels):
            raise RuntimeError(f"vw learned {seen} examples, expected {len(train_labels)}")

        vw_run(["--quiet", "-t", "-i", model, "-d", test_txt, "--loss_function", "logistic", "-p", preds])
        scores = np.loadtxt(preds, dtype=np.float64, ndmin=1)
    if scores.shape[0] != test_labels.shape[0]:
        raise RuntimeError(f"vw wrote {scores.shape[0]} predictions for {test_labels.shape[0]} test rows")
    accuracy = float(np.mean((scores > 0) == (test_labels > 0.5)))
    return seconds, accuracy


# ---------------------------------------------------------------- river


def to_dicts(features):
    keys = range(features.shape[1])
    return [dict(zip(keys, row)) for row in features.tolist()]


def run_river(train_labels, train_x, test_labels, test_x):
    from river import linear_model

    xs = to_dicts(train_x)
    ys = (train_labels > 0.5).tolist()
    model = linear_model.LogisticRegression()
    learn = model.learn_one

    start = time.perf_counter()
    for x, y in zip(xs, ys):
        learn(x, y)
    seconds = time.perf_counter() - start

    predict = model.predict_one
    truth = (test_labels > 0.5).tolist()
    correct = sum(1 for x, y in zip(to_dicts(test_x), truth) if bool(predict(x)) == y)
    return seconds, correct / len(truth)


# ---------------------------------------------------------------- main


def main(argv):
    parser = argparse.ArgumentParser(prog="learn_peer.py", description="VW / River online logistic regression peer")
    parser.add_argument("impl", choices=["vw", "river"])
    parser.add_argument("train")
    parser.add_argument("test")
    parser.add_argument("--limit", type=int, default=None, metavar="ROWS",
                        help="learn only the first ROWS rows of TRAIN")
    parser.add_argument("--vw-input", choices=["cache", "text"], default="cache",
                        help="vw only: time the pass over VW's binary cache (default) or over the text file")
    parser.add_argument("--workdir", default=None,
                        help="vw only: where the temporary text/cache/model files go (default: system temp dir)")
    opts = parser.parse_args(argv[1:])
    if opts.limit is not None and opts.limit < 1:
        parser.error("--limit must be >= 1")

    try:
        train_labels, train_x, train_c = read_tlrn(opts.train, opts.limit)
        test_labels, test_x, test_c = read_tlrn(opts.test)
        check_binary(opts.train, train_labels, train_c)
        check_binary(opts.test, test_labels, test_c)
    except (OSError, ValueError) as e:
        print(e, file=sys.stderr)
        return 2
    d = train_x.shape[1]
    if test_x.shape[1] != d:
        print(f"TRAIN has {d} features, TEST has {test_x.shape[1]}", file=sys.stderr)
        return 2
    if len(train_labels) == 0 or len(test_labels) == 0:
        print("TRAIN and TEST need at least one row each", file=sys.stderr)
        return 2

    if opts.impl == "vw":
        seconds, accuracy = run_vw(train_labels, train_x, test_labels, test_x, opts.vw_input, opts.workdir)
        extra = f" input={opts.vw_input}"
    else:
        seconds, accuracy = run_river(train_labels, train_x, test_labels, test_x)
        extra = ""
    n = len(train_labels)
    print(f"{opts.impl}: {n / seconds:,.0f} samples/s", file=sys.stderr)
    print(f"impl={opts.impl} samples={n} seconds={seconds:.6f} accuracy={accuracy:.6f} features={d}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
