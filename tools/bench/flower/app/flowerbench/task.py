"""The task of Tributary's seglearn demo, in numpy: windows, features, softmax regression, Adam.

One client per subject. Its recordings (sNN_<side>_e<label>_r<k>.csv from tools/datasets/fetch_seglearn.py),
in sorted file order, form one stream; windows of 100 frames slide over it with a hop of 50 (a window may
straddle two recordings). A window's label is the exercise of its last frame. Every 5th window (index % 5 == 4)
is held out for evaluation; the others are the training windows.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

WINDOW, HOP, HOLDOUT_EVERY = 100, 50, 5
CHANNELS, CLASSES = 6, 7
INPUTS = 6 * CHANNELS  # mean, std, min, max, rms, zcr of each channel, feature-major


def features(x: np.ndarray) -> np.ndarray:
    """(windows, frames, channels) float32 → (windows, 36): [mean(c0..c5), std(..), min, max, rms, zcr]."""
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=1)
    std = x64.std(axis=1)  # population
    rms = np.sqrt((x64 * x64).mean(axis=1))
    # Zero-crossing rate as Tributary computes it: the share of consecutive frame pairs whose deviations from
    # the window mean (a float32) change sign (negative vs. non-negative).
    negative = (x - mean.astype(np.float32)[:, None, :]) < 0
    zcr = (negative[:, 1:] != negative[:, :-1]).sum(axis=1) / (x.shape[1] - 1)
    return np.concatenate([mean, std, x.min(axis=1), x.max(axis=1), rms, zcr], axis=1).astype(np.float32)


@lru_cache(maxsize=2)
def load_client(data_dir: str, subject: int):
    """Standardized (train_x, train_y, test_x, test_y) of one subject (1-10)."""
    files = sorted(Path(data_dir).glob(f"s{subject:02d}_*.csv"))
    if not files:
        raise FileNotFoundError(f"no recordings of subject {subject} in {data_dir}")
    frames, labels = [], []
    for f in files:
        values = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.float32, ndmin=2)[:, 1:1 + CHANNELS]
        frames.append(values)
        labels.append(np.full(len(values), int(f.stem.split("_e")[1].split("_")[0])))  # ..._e<label>_r<k>
    stream, label = np.concatenate(frames), np.concatenate(labels)
    starts = np.arange(0, len(stream) - WINDOW + 1, HOP)
    x = features(stream[starts[:, None] + np.arange(WINDOW)])
    y = label[starts + WINDOW - 1]
    held_out = np.arange(len(starts)) % HOLDOUT_EVERY == HOLDOUT_EVERY - 1
    mu, sigma = x[~held_out].mean(axis=0), x[~held_out].std(axis=0)
    x = (x - mu) / (sigma + 1e-6)
    return x[~held_out], y[~held_out], x[held_out], y[held_out]


def initial_parameters(seed: int) -> list[np.ndarray]:
    """Weights (36×7) and bias (7) drawn from normal(0, 0.01): 259 float32 parameters."""
    p = np.random.default_rng(seed).normal(0.0, 0.01, INPUTS * CLASSES + CLASSES).astype(np.float32)
    return [p[: INPUTS * CLASSES].reshape(INPUTS, CLASSES), p[INPUTS * CLASSES:]]


def train(params: list[np.ndarray], x: np.ndarray, y: np.ndarray, steps: int, lr: float, rnd: int):
    """`steps` single-sample Adam steps on the cross-entropy from `params`; returns the new parameters.

    The samples are spread over all training windows from an offset that changes every round, cycling when
    more are asked for than there are (the index rule of Tributary's agent).
    """
    w, b = params[0].astype(np.float64), params[1].astype(np.float64)
    state = [np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)]  # fresh Adam moments
    b1, b2, eps = 0.9, 0.999, 1e-8
    n = len(x)
    offset = (rnd * 7919) % n
    for t in range(1, steps + 1):
        i = (offset + (t - 1) * n // max(1, min(steps, n)) + (t - 1) // n) % n
        z = x[i] @ w + b
        p = np.exp(z - z.max())
        p /= p.sum()
        p[y[i]] -= 1.0  # d(cross-entropy)/dz
        for k, (param, grad) in enumerate(((w, np.outer(x[i], p)), (b, p))):
            m, v = state[2 * k], state[2 * k + 1]
            m *= b1
            m += (1 - b1) * grad
            v *= b2
            v += (1 - b2) * grad * grad
            param -= lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return [w.astype(np.float32), b.astype(np.float32)]


def accuracy(params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    return float(((x @ params[0] + params[1]).argmax(axis=1) == y).mean()) if len(y) else 0.0
